#include "trainer/model_package.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_io.h"
#include "common/model_package.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "source_commit.h"
#include "trainer/export.h"
#include "trainer/model.h"
#include "trainer/reference_index.h"
#include "trainer/split_record.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;

nlohmann::json YamlToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : node) j[kv.first.as<std::string>()] = YamlToJson(kv.second);
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : node) j.push_back(YamlToJson(v));
    return j;
  }
  if (!node.IsScalar()) return nullptr;
  // Keep YAML's typing: integers, floats and booleans as JSON numbers and booleans.
  const std::string& s = node.Scalar();
  if (node.Tag() != "!") {
    int64_t i;
    double d;
    bool b;
    if (YAML::convert<int64_t>::decode(node, i)) return i;
    if (YAML::convert<double>::decode(node, d)) return d;
    if (YAML::convert<bool>::decode(node, b)) return b;
  }
  return s;
}

// Up to `n` test rows, round-robin across labels so every output column is exercised, least
// confident first within each label: saturated outputs (p ~ 1.0) would hide a wrong model, the
// borderline ones move with any change in the weights.
std::vector<size_t> PickGoldenRows(const PreparedData& p, Classifier& model, int n) {
  const int k = model->spec().num_classes;
  std::vector<float> probs = PredictProbabilities(model, p.data.x, p.split.test);
  std::map<int, std::vector<std::pair<float, size_t>>> by_label;
  for (size_t i = 0; i < p.split.test.size(); ++i) {
    const float* row = probs.data() + i * k;
    by_label[p.labels[p.split.test[i]]].push_back(
        {*std::max_element(row, row + k), p.split.test[i]});
  }
  for (auto& [label, candidates] : by_label) std::sort(candidates.begin(), candidates.end());
  std::vector<size_t> rows;
  for (size_t i = 0; static_cast<int>(rows.size()) < n; ++i) {
    bool any = false;
    for (auto& [label, candidates] : by_label) {
      if (i < candidates.size() && static_cast<int>(rows.size()) < n) {
        rows.push_back(candidates[i].second);
        any = true;
      }
    }
    if (!any) break;
  }
  return rows;
}

}  // namespace

nlohmann::json DatasetJson(const TrainConfig& config, const PreparedData& p) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : p.data.files) {
    files.push_back({{"class", f.class_name},
                     {"file", fs::path(f.path).filename().string()},
                     {"path", fs::absolute(f.path).string()},
                     {"sha256", f.sha256},
                     {"count", f.count},
                     {"layout", f.source.layout},
                     {"ids", f.source.ids},
                     {"precision", f.source.precision},
                     {"pooled_per_residue", f.source.pooled}});
  }
  nlohmann::json class_counts = nlohmann::json::object();
  nlohmann::json label_of_class = nlohmann::json::object();
  for (size_t c = 0; c < p.data.class_names.size(); ++c) {
    class_counts[p.data.class_names[c]] = p.data.CountOfClass(static_cast<int>(c));
    label_of_class[p.data.class_names[c]] = p.scheme.labels[p.scheme.label_of_class[c]];
  }
  // One digest of everything the model learnt from: each file's sha256 in order, then the labels
  // table's (empty for class files). Reports name the training data by it (hAMRonization's
  // reference_database_version).
  std::string digests;
  for (const auto& f : p.data.files) absl::StrAppend(&digests, f.sha256, "\n");
  absl::StrAppend(&digests, p.data.labels_sha256, "\n");
  return {{"files", files},
          {"data_sha256", Sha256Hex(digests)},
          {"label_source", p.data.label_source},
          {"labels_sha256", p.data.labels_sha256},
          {"classes", p.data.class_names},
          {"label_of_class", label_of_class},
          {"class_counts", class_counts},
          {"split_sizes",
           {{"train", p.split.train.size()},
            {"val", p.split.val.size()},
            {"test", p.split.test.size()}}},
          {"split_fractions",
           {{"train", config.data.train_fraction},
            {"val", config.data.val_fraction},
            {"test", config.data.test_fraction}}},
          {"split_seed", config.data.split_seed},
          {"split", p.split_record},
          {"balanced_sampling", config.data.balanced_sampling},
          {"synthetic", p.data.synthetic()},
          {"cache_key", p.data.cache_key}};
}

// The embedder as the files say (precision, pooling done here) and the config names it (model,
// pooling upstream), with the label source and the intended use and limits.
nlohmann::json ReviewJson(const TrainConfig& config, const PreparedData& p) {
  std::set<std::string> precisions;
  int64_t pooled = 0;
  for (const auto& f : p.data.files) {
    precisions.insert(f.source.precision);
    pooled += f.source.pooled;
  }
  std::string pooling = config.card.pooling;
  if (pooled > 0) {
    pooling = absl::StrCat("mean over residues (", pooled,
                           " per-residue arrays pooled by arginator-train)");
  }
  std::string label_source = config.card.label_source;
  if (label_source.empty()) label_source = p.data.label_source;
  return {{"embedder",
           {{"model", config.card.embedder},
            {"precision", std::vector<std::string>(precisions.begin(), precisions.end())},
            {"pooling", pooling}}},
          {"label_source", label_source},
          {"labels", {{"from", p.data.label_source}, {"sha256", p.data.labels_sha256}}},
          {"intended_use", config.card.intended_use},
          {"limitations", config.card.limitations},
          {"synthetic_data", p.data.synthetic()}};
}

absl::StatusOr<TrainConfig> TrainingConfigOf(const ModelCard& card, const std::string& model_dir,
                                             const std::vector<std::string>& overrides) {
  if (!card.config.is_object() || card.config.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        model_dir, "/model.json records no training config: its data layout is unknown"));
  }
  // JSON is YAML: the layered loader reads it as a config file, so every key is checked again.
  const fs::path file =
      fs::temp_directory_path() / absl::StrCat("arginator-card-config-", ::getpid(), ".yaml");
  ARG_RETURN_IF_ERROR(WriteFileDurably(file.string(), card.config.dump()));
  auto config = LoadTrainConfig(file.string(), overrides);
  std::error_code ec;
  fs::remove(file, ec);
  return config;
}

NormStats ComputeNormStats(const EmbeddingMatrix& x, const std::vector<size_t>& rows) {
  NormStats s;
  std::vector<double> norms;
  norms.reserve(rows.size());
  for (size_t r : rows) norms.push_back(RowL2Norm(x.row(r), x.dim));
  if (norms.empty()) return s;
  std::sort(norms.begin(), norms.end());
  double sum = 0, sum_sq = 0;
  for (double n : norms) sum += n, sum_sq += n * n;
  s.mean = sum / norms.size();
  s.std = std::sqrt(std::max(0.0, sum_sq / norms.size() - s.mean * s.mean));
  s.min = norms.front();
  s.max = norms.back();
  const std::pair<const char*, double> quantiles[] = {{"p0.1", 0.001}, {"p1", 0.01},  {"p5", 0.05},
                                                      {"p50", 0.5},    {"p95", 0.95}, {"p99", 0.99},
                                                      {"p99.9", 0.999}};
  for (const auto& [name, q] : quantiles) {
    // Linear interpolation between closest ranks.
    double pos = q * (norms.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(pos));
    size_t hi = std::min(lo + 1, norms.size() - 1);
    s.quantiles[name] = norms[lo] + (norms[hi] - norms[lo]) * (pos - lo);
  }
  return s;
}

absl::StatusOr<nlohmann::json> WriteModelPackage(const std::string& dir, int64_t version,
                                                 const PackageInputs& in) {
  const TrainConfig& config = *in.config;
  const PreparedData& p = *in.prepared;
  const std::string model_path = ModelFilePath(dir);
  // Serialized in memory, then written by us: LibTorch's file writer throws from its destructor
  // when a write fails (a full disk), which ends the process instead of failing the publish.
  std::ostringstream bytes;
  try {
    ExportTorchScript(in.trained->model).save(bytes);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(model_path, ": TorchScript save failed: ", e.what_without_backtrace()));
  }
  ARG_RETURN_IF_ERROR(WriteFileDurably(model_path, bytes.str()));
  ARG_ASSIGN_OR_RETURN(torch::jit::Module reloaded, LoadTorchScript(model_path));

  ModelCard card;
  card.name = config.output.name;
  card.version = version;
  card.task = config.task;
  card.input_dim = p.data.x.dim;
  card.labels = p.scheme.labels;
  card.output = "probabilities";
  card.architecture = ArchitectureJson(in.trained->model->spec());
  const auto& e = config.experiment;
  card.hyperparameters = {{"optimizer", e.optimizer},
                          {"lr", e.lr},
                          {"weight_decay", e.weight_decay},
                          {"momentum", e.optimizer == "sgd" ? e.momentum : 0.0},
                          {"nesterov", e.optimizer == "sgd"},
                          {"batch_size", e.batch_size},
                          {"epochs", e.epochs},
                          {"epochs_run", in.trained->history.size()},
                          {"best_epoch", in.trained->best_epoch},
                          {"patience", e.patience},
                          {"seed", e.seed},
                          {"loss", "cross_entropy"}};
  card.dataset = DatasetJson(config, p);
  const std::string split_path = (fs::path(dir) / kSplitRecordFile).string();
  ARG_RETURN_IF_ERROR(WriteSplitRecord(split_path, p.data.x, p.split));
  ARG_ASSIGN_OR_RETURN(std::string split_sha, Sha256File(split_path));
  card.dataset["split_record"] = {
      {"file", kSplitRecordFile}, {"sha256", split_sha}, {"proteins", p.data.x.rows()}};
  double samples_per_s = 0;
  for (const auto& h : in.trained->history) samples_per_s += h.samples_per_s;
  samples_per_s /= std::max<size_t>(1, in.trained->history.size());
  card.metrics = {{"val", MetricsToJson(*in.val)},
                  {"test", MetricsToJson(*in.test)},
                  {"test_intervals", in.test_intervals},
                  {"training_samples_per_s", samples_per_s}};
  card.config = YamlToJson(config.resolved);
  card.review = ReviewJson(config, p);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  card.provenance = {{"source_commit", ARGINATOR_SOURCE_COMMIT},
                     {"host", host},
                     {"trainer_version", ARGINATOR_VERSION},
                     {"torch_version", TORCH_VERSION}};
  card.input_norm = ComputeNormStats(p.data.x, p.split.train);
  ARG_RETURN_IF_ERROR(WriteDensityFile(dir, *in.decision));
  std::vector<std::string> train_labels;
  for (size_t r : p.split.train) train_labels.push_back(p.scheme.labels[p.labels[r]]);
  ARG_ASSIGN_OR_RETURN(card.evidence_json, WriteReferenceIndex(dir, p.data.x, p.split.train,
                                                               train_labels, p.split.val));
  ARG_ASSIGN_OR_RETURN(card.evidence, EvidenceIndexFromJson(card.evidence_json, dir));
  card.decision_json = in.decision->card;
  card.decision = in.decision->policy;

  std::vector<size_t> golden_rows =
      PickGoldenRows(p, in.trained->model, config.output.golden_examples);
  torch::Tensor golden_x = GatherRows(p.data.x, golden_rows);
  ARG_ASSIGN_OR_RETURN(std::vector<float> golden_probs,
                       RunTorchScript(reloaded, golden_x.data_ptr<float>(),
                                      static_cast<int64_t>(golden_rows.size()), p.data.x.dim));
  std::vector<std::string> golden_ids;
  for (size_t r : golden_rows) golden_ids.push_back(p.data.x.ids[r]);
  ARG_RETURN_IF_ERROR(
      CheckGoldenRowsAlone(reloaded, golden_x, golden_probs, golden_ids, card.labels, model_path));
  const size_t k = card.labels.size();
  for (size_t i = 0; i < golden_rows.size(); ++i) {
    const float* row = p.data.x.row(golden_rows[i]);
    card.golden.push_back(
        {p.data.x.ids[golden_rows[i]], std::vector<float>(row, row + p.data.x.dim),
         std::vector<float>(golden_probs.begin() + i * k, golden_probs.begin() + (i + 1) * k)});
  }
  card.golden_tolerance = 1e-4;
  ARG_ASSIGN_OR_RETURN(card.model_sha256, Sha256File(model_path));
  card.created = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  card.trainer_version = ARGINATOR_VERSION;
  card.torch_version = TORCH_VERSION;
  nlohmann::json document = ModelCardToJson(card);
  ARG_RETURN_IF_ERROR(WriteFileDurably(ModelCardPath(dir), document.dump(2) + "\n"));
  return document;
}

}  // namespace arginator::trainer
