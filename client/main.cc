// arginator-client: classify files, list models, show metadata, check health, admin.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/admin_command.h"
#include "client/arginator_client.h"
#include "client/results_writer.h"
#include "common/embedding_files.h"
#include "common/id_map.h"
#include "common/mutex_mode.h"
#include "common/progress.h"
#include "nlohmann/json.hpp"

namespace {

using namespace arginator::client;

// Exit status 2: the invocation or its input is invalid (a usage error, a file that cannot be
// read or parsed, a request the server rejects as invalid or naming what it does not serve).
// 1: everything else (the server unreachable or failing, health not SERVING).
constexpr int kInvalidInput = 2;

int Fail(const absl::Status& status, bool invalid_input = false) {
  std::cerr << "arginator-client: error: " << status.message() << std::endl;
  const absl::StatusCode code = status.code();
  invalid_input = invalid_input || code == absl::StatusCode::kInvalidArgument ||
                  code == absl::StatusCode::kNotFound || code == absl::StatusCode::kOutOfRange;
  return invalid_input ? kInvalidInput : 1;
}

const char* StateName(arginator::v1::VersionStatus::State s) {
  return arginator::v1::VersionStatus::State_Name(s).c_str();
}

// An input file and how to read it: the options `classify` and `inspect` share.
struct InputFile {
  std::string path, id_map, fasta;
  bool pool_residues = true;

  absl::StatusOr<arginator::EmbeddingMatrix> Read(arginator::EmbeddingSource* source) const {
    std::unique_ptr<arginator::IdMap> map;
    auto options = Options(&map);
    if (!options.ok()) return options.status();
    return arginator::ReadEmbeddingFile(path, *options, source);
  }
  // The same file a request's rows at a time (an id map is applied while the stream opens).
  absl::StatusOr<std::unique_ptr<arginator::EmbeddingStream>> Open() const {
    std::unique_ptr<arginator::IdMap> map;
    auto options = Options(&map);
    if (!options.ok()) return options.status();
    return arginator::EmbeddingStream::Open(path, *options);
  }

 private:
  // The read options; their id map (when --id-map or --fasta gave one) lives in `*map`.
  absl::StatusOr<arginator::EmbeddingReadOptions> Options(
      std::unique_ptr<arginator::IdMap>* map) const {
    auto loaded = arginator::LoadIdMap(id_map, fasta);
    if (!loaded.ok()) return loaded.status();
    *map = *std::move(loaded);
    arginator::EmbeddingReadOptions options;
    options.pool_residues = pool_residues;
    options.id_map = map->get();
    return options;
  }
};

int RunInspect(const InputFile& input, bool list_ids) {
  arginator::EmbeddingSource source;
  auto embeddings = input.Read(&source);
  if (!embeddings.ok()) return Fail(embeddings.status(), /*invalid_input=*/true);
  std::cout << "file:      " << input.path << "\nlayout:    " << source.layout
            << "\nids:       " << source.ids << "\nproteins:  " << embeddings->rows()
            << "\nprecision: " << source.precision << "\npooled:    " << source.pooled << "\n";
  for (size_t i = 0; list_ids && i < embeddings->rows(); ++i) {
    std::cout << absl::StrFormat("%s\t%.4f\n", embeddings->ids[i],
                                 arginator::RowL2Norm(embeddings->row(i), embeddings->dim));
  }
  return 0;
}

// The training data digest of a model version, from its card (dataset.data_sha256), for the
// hAMRonization reports' reference_database_version; "" when the card has none or the call fails.
std::string DataSha256(ArginatorClient& client, const std::string& name, int64_t version) {
  ModelSelector exact;
  exact.name = name;
  exact.version = version;
  auto metadata = client.GetModelMetadata(exact);
  if (!metadata.ok()) return "";
  const nlohmann::json dataset =
      nlohmann::json::parse(metadata->dataset_json(), nullptr, /*allow_exceptions=*/false);
  if (!dataset.is_object() || !dataset.contains("data_sha256") ||
      !dataset["data_sha256"].is_string()) {
    return "";
  }
  return dataset["data_sha256"].get<std::string>();
}

ResultsWriter::Format FormatNamed(const std::string& name) {
  if (name == "jsonl") return ResultsWriter::Format::kJsonl;
  if (name == "hamronization") return ResultsWriter::Format::kHamronization;
  if (name == "hamronization-json") return ResultsWriter::Format::kHamronizationJson;
  return ResultsWriter::Format::kCsv;
}

// Reads, sends and writes at once: the file is read a request's rows at a time (NPY and CSV as
// they go; common/embedding_files.h) on a thread of its own, at most `in_flight` requests wait for
// their answers, and each answer is written as it arrives, so memory holds a few requests whatever
// the file's size. On any failure the results file is removed: a partial file is not a result.
int RunClassify(ArginatorClient& client, const ModelSelector& model, const InputFile& input_file,
                const std::string& output, ResultsWriter::Format format, size_t batch,
                size_t in_flight, const std::string& stream_mode, bool probabilities,
                bool include_uncertain, int evidence) {
  const std::string& input = input_file.path;
  const auto start = std::chrono::steady_clock::now();
  auto stream = input_file.Open();
  if (!stream.ok()) return Fail(stream.status(), /*invalid_input=*/true);
  // Opening reads the header (NPY), nothing (CSV) or the whole file (HDF5, an id map).
  double read_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t total = (*stream)->total_rows();  // -1: CSV, counted as it is read
  auto writer = ResultsWriter::Open(output, format, input);
  if (!writer.ok()) return Fail(writer.status(), /*invalid_input=*/true);
  const auto fail = [&](const absl::Status& status, bool invalid_input) {
    if (output != "-") std::filesystem::remove(output);
    return Fail(status, invalid_input);
  };
  HamronizationContext report;
  report.input_file = std::filesystem::path(input).filename().string();
  report.software_version = ARGINATOR_VERSION;
  report.include_uncertain = include_uncertain;
  writer->SetHamronization(report, [&client](const std::string& name, int64_t version) {
    return HamronizationDatabaseVersion(version, DataSha256(client, name, version));
  });
  arginator::ProgressBar bar("classify", std::max<int64_t>(total, 0));
  size_t done = 0;
  absl::Status write_status;
  std::string served_by;
  auto on_batch = [&](size_t, const arginator::v1::ClassifyResponse& response) {
    served_by = absl::StrCat(response.model_name(), " v", response.model_version());
    if (write_status.ok()) write_status = writer->Write(response);
    done += response.predictions_size();
    bar.Update(static_cast<int64_t>(done));
  };
  // The reader's errors are the input's (exit 2); its time is summed for the summary.
  absl::Status read_status;
  const ArginatorClient::ChunkSource next =
      [&](arginator::EmbeddingMatrix& chunk) -> absl::StatusOr<bool> {
    const auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<bool> more = (*stream)->Next(batch, chunk);
    read_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!more.ok()) read_status = more.status();
    return more;
  };
  const bool streamed =
      stream_mode == "always" ||
      (stream_mode == "auto" && (total < 0 || static_cast<size_t>(total) > 4 * batch));
  absl::Status status;
  if (streamed) {
    status = client.ClassifyChunks(model, next, probabilities, evidence, in_flight, on_batch);
  } else {
    arginator::EmbeddingMatrix chunk;
    for (size_t first = 0; status.ok();) {
      absl::StatusOr<bool> more = next(chunk);
      if (!more.ok() || !*more) {
        status = more.status();
        break;
      }
      auto response = client.Classify(model, chunk, 0, chunk.rows(), probabilities, evidence);
      if (!response.ok()) {
        status = response.status();
        break;
      }
      on_batch(first, *response);
      first += chunk.rows();
    }
  }
  bar.Finish();
  if (!read_status.ok()) return fail(read_status, /*invalid_input=*/true);
  if (!status.ok()) return fail(status, /*invalid_input=*/false);
  if (!write_status.ok()) return fail(write_status, /*invalid_input=*/false);
  if (absl::Status s = writer->Close(); !s.ok()) return fail(s, /*invalid_input=*/false);
  const size_t n = done;
  // Said once every row is read: an input error stays the one line an invalid file prints.
  std::cerr << arginator::DescribeRead(input, n, (*stream)->source()) << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << absl::StrFormat(
      "classified %d embeddings from %s with %s in %.2fs (%.0f/s, %s; reading the file took "
      "%.2fs)\n",
      n, input, served_by, seconds, n / seconds, streamed ? "ClassifyStream" : "Classify",
      read_seconds);
  for (const auto& [label, count] : writer->label_counts()) {
    std::cerr << absl::StrFormat("  %-20s %8d  %5.1f%%\n", label, count, 100.0 * count / n);
  }
  std::cerr << absl::StrFormat("  %-20s %8d\n", "out_of_distribution",
                               writer->out_of_distribution());
  std::cerr << absl::StrFormat(
      "  %-20s %8d  (no call: below the threshold or out of "
      "distribution)\n",
      "uncertain", writer->uncertain());
  std::cerr << "results: " << (output == "-" ? "standard output" : output) << "\n";
  return 0;
}

int RunModels(ArginatorClient& client) {
  auto models = client.ListModels();
  if (!models.ok()) return Fail(models.status());
  std::cout << absl::StrFormat("%-24s %-11s %-8s %-10s %s\n", "MODEL", "TASK", "VERSION", "STATE",
                               "LABELS / REASON");
  for (const auto& m : models->models()) {
    for (const auto& v : m.versions()) {
      std::string note;
      for (const auto& l : v.version_labels()) absl::StrAppend(&note, note.empty() ? "" : ",", l);
      if (v.version() == m.default_version())
        absl::StrAppend(&note, note.empty() ? "" : ",", "default");
      if (!v.reason().empty()) absl::StrAppend(&note, note.empty() ? "" : " ", v.reason());
      std::cout << absl::StrFormat("%-24s %-11s %-8d %-10s %s\n", m.name(), m.task(), v.version(),
                                   StateName(v.state()), note);
    }
  }
  return 0;
}

// A card section as indented JSON, keys sorted (as the Python client prints it); text that is not
// JSON as it is.
std::string PrettyJson(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? text : parsed.dump(2);
}

int RunMetadata(ArginatorClient& client, const ModelSelector& model) {
  auto md = client.GetModelMetadata(model);
  if (!md.ok()) return Fail(md.status());
  std::cout << "name:        " << md->name() << "\nversion:     " << md->version()
            << "\ntask:        " << md->task()
            << "\nstate:       " << StateName(md->status().state())
            << "\ninput_dim:   " << md->input_dim() << "\nlabels:      ";
  for (int i = 0; i < md->labels_size(); ++i) std::cout << (i ? ", " : "") << md->labels(i);
  std::cout << "\noutput:      " << md->output() << "\ncreated:     " << md->created()
            << "\nsha256:      " << md->model_sha256()
            << absl::StrFormat("\nnorm range:  [%.3f, %.3f] (inputs outside are flagged)",
                               md->input_norm_min(), md->input_norm_max())
            << "\narchitecture: " << PrettyJson(md->architecture_json())
            << "\nmetrics:     " << PrettyJson(md->metrics_json()) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  arginator::DisableMutexDeadlockDetection();
  CLI::App app{"arginator-client: classify protein embeddings with an arginator-server"};
  app.require_subcommand(1);
  ClientOptions options;
  double deadline_s = 30;
  ModelSelector model;
  int64_t version = 0;
  std::string label;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--target", options.target, "server address host:port")->capture_default_str();
    cmd->add_option("--deadline", deadline_s, "seconds per call, retries included")
        ->capture_default_str();
    cmd->add_flag("--tls", options.tls, "use TLS");
    cmd->add_option("--ca-cert", options.ca_cert, "PEM CA certificate (implies --tls)");
    cmd->add_option("--cert", options.client_cert, "PEM client certificate for mutual TLS");
    cmd->add_option("--key", options.client_key, "PEM client key for mutual TLS");
    cmd->add_option("--authority", options.authority, "TLS server name override");
    cmd->add_option("--lb-policy", options.lb_policy,
                    "round_robin: spread calls over every address the target resolves to "
                    "(ipv4:a:port,b:port or dns:///service:port); default pick_first")
        ->check(CLI::IsMember(
            std::vector<std::string>(std::begin(kLbPolicies), std::end(kLbPolicies))));
  };
  auto add_model = [&](CLI::App* cmd) {
    cmd->add_option("--model", model.name, "model name")->required();
    auto* v = cmd->add_option("--version", version, "exact version");
    cmd->add_option("--label", label, "version label (stable, canary, ...)")->excludes(v);
  };

  InputFile input;
  auto add_input = [&](CLI::App* cmd) {
    cmd->add_option("--input", input.path,
                    "embeddings: .h5 (seed, bio_embeddings, ProtTrans, UniProt layouts), .csv/.tsv "
                    "(id + values), .npy")
        ->required();
    auto* map = cmd->add_option("--id-map", input.id_map,
                                "two-column table (key, id) renaming the file's ids");
    cmd->add_option("--fasta", input.fasta,
                    "the FASTA the embeddings were made from: recovers its ids from md5 or "
                    "ProtTrans keys")
        ->excludes(map);
    cmd->add_flag("!--no-pooling", input.pool_residues,
                  "refuse per-residue [L, 1024] arrays instead of mean-pooling them");
  };
  std::string output, format = "csv", stream_mode = "auto";
  size_t batch = 256;
  bool probabilities = true;
  auto* classify =
      app.add_subcommand("classify", "classify an HDF5, CSV or NPY file of embeddings");
  add_common(classify);
  add_model(classify);
  add_input(classify);
  classify->add_option("--output", output, "results file (CSV or JSON Lines), - for stdout")
      ->required();
  classify
      ->add_option("--format", format,
                   "csv, jsonl, or hamronization / hamronization-json (hAMRonization 1.x "
                   "TSV / JSON: beta-lactamase calls only)")
      ->check(CLI::IsMember({"csv", "jsonl", "hamronization", "hamronization-json"}))
      ->capture_default_str();
  bool include_uncertain = false;
  int evidence = 0;
  classify
      ->add_option("--evidence", evidence,
                   "the K nearest known proteins (the model's labelled training proteins) of "
                   "each embedding, as evidence beside its call")
      ->check(CLI::Range(0, 50));
  classify->add_flag("--include-uncertain", include_uncertain,
                     "hAMRonization formats: also report the uncertain calls");
  classify->add_option("--batch", batch, "embeddings per request")->capture_default_str();
  size_t in_flight = ArginatorClient::kDefaultMaxInFlight;
  classify
      ->add_option("--in-flight", in_flight,
                   "requests sent and not yet answered while streaming (memory holds about this "
                   "many batches)")
      ->capture_default_str();
  classify->add_option("--stream", stream_mode, "auto (large inputs), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  classify->add_flag("!--no-probabilities", probabilities, "omit the per-class columns");

  bool list_ids = false;
  auto* inspect = app.add_subcommand(
      "inspect", "read an embeddings file as classify would and say what was found (no server)");
  add_input(inspect);
  inspect->add_flag("--ids", list_ids, "also list each protein's id and L2 norm");

  auto* models = app.add_subcommand("models", "list models, versions and their state");
  add_common(models);
  auto* metadata = app.add_subcommand("metadata", "show one model version's metadata");
  add_common(metadata);
  add_model(metadata);
  std::string service;
  auto* health = app.add_subcommand("health", "check health; exit 0 when SERVING");
  add_common(health);
  health->add_option("--service", service, "a model name; empty = the whole server");

  AdminCommand admin;
  admin.Add(app, add_common);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kInvalidInput;
  }
  if (inspect->parsed()) return RunInspect(input, list_ids);
  options.deadline = absl::Seconds(deadline_s);
  if (!options.ca_cert.empty() || !options.client_cert.empty()) options.tls = true;
  if (version > 0) model.version = version;
  if (!label.empty()) model.label = label;
  auto client = ArginatorClient::Create(options);  // fails only on the TLS files
  if (!client.ok()) return Fail(client.status(), /*invalid_input=*/true);

  if (classify->parsed()) {
    return RunClassify(**client, model, input, output, FormatNamed(format),
                       std::max<size_t>(1, batch), std::max<size_t>(1, in_flight), stream_mode,
                       probabilities, include_uncertain, evidence);
  }
  if (models->parsed()) return RunModels(**client);
  if (admin.parsed()) return admin.Run(**client);
  if (metadata->parsed()) return RunMetadata(**client, model);
  auto status = (*client)->Health(service);
  if (!status.ok()) return Fail(status.status());
  std::cout << *status << "\n";
  return *status == "SERVING" ? 0 : 1;
}
