#include "trainer/pipeline.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/csv_fields.h"
#include "common/file_io.h"
#include "common/model_card.h"
#include "common/model_package.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/version_labels.h"
#include "trainer/bootstrap.h"
#include "trainer/decision_fit.h"
#include "trainer/export.h"
#include "trainer/model_package.h"
#include "trainer/publish_gate.h"
#include "trainer/random.h"
#include "trainer/report.h"
#include "trainer/similarity_groups.h"
#include "trainer/split_record.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;

void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

std::string RunId() {
  return absl::StrCat(absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()), "-",
                      ::getpid());
}

std::string ConfigYaml(const TrainConfig& config) {
  YAML::Emitter out;
  out << config.resolved;
  return std::string(out.c_str()) + "\n";
}

// A trial's config: the base with the sampled hyperparameters, in both the struct and the YAML.
TrainConfig TrialConfig(const TrainConfig& base, Rng& rng) {
  TrainConfig c = base;
  c.resolved = YAML::Clone(base.resolved);
  const auto& s = base.sweep;
  auto& e = c.experiment;
  e.lr = std::exp(std::log(s.lr_min) + rng.Uniform() * (std::log(s.lr_max) - std::log(s.lr_min)));
  e.batch_size = s.batch_sizes[rng.Below(s.batch_sizes.size())];
  c.model.dropout = s.dropout_min + rng.Uniform() * (s.dropout_max - s.dropout_min);
  c.model.hidden = s.hidden_options[rng.Below(s.hidden_options.size())];
  e.epochs = s.epochs_min + static_cast<int>(rng.Below(s.epochs_max - s.epochs_min + 1));
  c.resolved["experiment"]["lr"] = e.lr;
  c.resolved["experiment"]["batch_size"] = e.batch_size;
  c.resolved["experiment"]["epochs"] = e.epochs;
  c.resolved["model"]["dropout"] = c.model.dropout;
  c.resolved["model"]["hidden"] = c.model.hidden;
  return c;
}

struct TrialRow {
  int trial;
  double lr, dropout, val_loss, val_accuracy, val_f1, seconds;
  int batch_size, epochs, best_epoch;
  std::vector<int> hidden;
};

std::string HiddenText(const std::vector<int>& hidden) {
  return absl::StrCat("[", absl::StrJoin(hidden, "-"), "]");
}

absl::Status WriteLeaderboard(const std::string& dir, const std::vector<TrialRow>& rows) {
  std::string csv =
      "rank,trial,val_loss,val_accuracy,val_f1,lr,batch_size,dropout,hidden,epochs,best_epoch,"
      "seconds\n";
  std::string md =
      "| rank | trial | val loss | val acc | val F1 | lr | batch | dropout | hidden | epochs | "
      "best epoch | seconds |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrialRow& r = rows[i];
    absl::StrAppend(
        &csv, absl::StrFormat("%d,%d,%.6f,%.6f,%.6f,%.6g,%d,%.4f,%s,%d,%d,%.1f\n", i + 1, r.trial,
                              r.val_loss, r.val_accuracy, r.val_f1, r.lr, r.batch_size, r.dropout,
                              HiddenText(r.hidden), r.epochs, r.best_epoch, r.seconds));
    absl::StrAppend(&md, absl::StrFormat("| %d | %d | %.4f | %.4f | %.4f | %.2e | %d | %.2f | %s | "
                                         "%d | %d | %.1f |\n",
                                         i + 1, r.trial, r.val_loss, r.val_accuracy, r.val_f1, r.lr,
                                         r.batch_size, r.dropout, HiddenText(r.hidden), r.epochs,
                                         r.best_epoch, r.seconds));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  ARG_RETURN_IF_ERROR(WriteFileDurably((fs::path(dir) / "leaderboard.csv").string(), csv));
  return WriteFileDurably((fs::path(dir) / "leaderboard.md").string(), md);
}

// The version a server serves by default today: the one labelled stable, else the newest.
// 0 when the repository has none.
int64_t ServingVersion(const std::string& model_dir) {
  const std::string labels_path = (fs::path(model_dir) / kVersionLabelsFile).string();
  if (auto labels = ReadVersionLabels(labels_path, kMaxLabelBytes); labels.ok()) {
    auto stable = labels->find("stable");
    if (stable != labels->end() &&
        fs::is_directory(fs::path(model_dir) / std::to_string(stable->second))) {
      return stable->second;
    }
  }
  return HighestVersion(model_dir);
}

// The serving version scored on the candidate's test split, when it has the same inputs and labels.
absl::StatusOr<std::optional<ServingScore>> ScoreServingVersion(const TrainConfig& config,
                                                                const PreparedData& p,
                                                                const std::vector<int>& test_truth,
                                                                std::ostream& log) {
  const std::string model_dir = (fs::path(config.output.repository) / config.output.name).string();
  const int64_t version = ServingVersion(model_dir);
  if (version <= 0) return std::optional<ServingScore>();
  const std::string dir = (fs::path(model_dir) / std::to_string(version)).string();
  auto card = ReadVerifiedPackage(dir);
  if (!card.ok()) {
    log << "publish gate: not compared with " << dir << ": " << card.status().message() << "\n";
    return std::optional<ServingScore>();
  }
  if (card->input_dim != p.data.x.dim || card->labels != p.scheme.labels) {
    log << "publish gate: not compared with " << config.output.name << " v" << version
        << ": its labels [" << absl::StrJoin(card->labels, ", ") << "] differ\n";
    return std::optional<ServingScore>();
  }
  ARG_ASSIGN_OR_RETURN(torch::jit::Module module, LoadTorchScript(ModelFilePath(dir)));
  ARG_ASSIGN_OR_RETURN(std::vector<float> probs,
                       RunTorchScriptOnRows(module, p.data.x, p.split.test));
  const ClassificationMetrics m = Evaluate(test_truth, probs, card->labels);
  return ServingScore{absl::StrCat(config.output.name, " v", version), MacroF1(m)};
}

// The model's labels.json, or none when it does not exist.
absl::StatusOr<std::map<std::string, int64_t>> ModelLabels(const std::string& path) {
  if (!fs::exists(path)) return std::map<std::string, int64_t>();
  return ReadVersionLabels(path, kMaxLabelBytes);
}

// Pins stable to the version served so far when no stable label exists, so a server whose
// default is the stable label (models.default_labels) keeps serving it after a labelled publish.
absl::Status PinStable(const std::string& model_dir, std::ostream& log) {
  const std::string path = (fs::path(model_dir) / kVersionLabelsFile).string();
  ARG_ASSIGN_OR_RETURN(auto labels, ModelLabels(path));
  const int64_t serving = ServingVersion(model_dir);
  if (labels.count("stable") || serving <= 0) return absl::OkStatus();
  labels["stable"] = serving;
  log << "labels: stable -> v" << serving << " (the version served so far)\n";
  return WriteVersionLabels(path, labels);
}

// Sets `label` on `version` in the model's labels.json, keeping the other labels.
absl::Status SetLabel(const std::string& model_dir, const std::string& label, int64_t version,
                      std::ostream& log) {
  const std::string path = (fs::path(model_dir) / kVersionLabelsFile).string();
  ARG_ASSIGN_OR_RETURN(auto labels, ModelLabels(path));
  labels[label] = version;
  log << "labels: " << label << " -> v" << version << "\n";
  return WriteVersionLabels(path, labels);
}

// Splits by protein, by the labels table's groups or by similarity clusters (data.split.by),
// stratified by the fine class (which also stratifies the binary labels), and says how close the
// test proteins come to the training proteins.
absl::Status SplitData(const TrainConfig& config, PreparedData& p, std::ostream& log) {
  const auto& d = config.data;
  std::vector<std::string> groups;
  std::string method = "stratified by class";
  if (d.split_by == "group") {
    if (p.data.groups.empty()) {
      return absl::InvalidArgumentError(
          "data.split.by=group needs groups: a `group` column in the labels table (data.labels); "
          "or use data.split.by=similarity");
    }
    groups = p.data.groups;
    method = "by the labels table's groups";
  } else if (d.split_by == "similarity") {
    const auto start = std::chrono::steady_clock::now();
    groups = SimilarityGroups(p.data.x, d.split_similarity);
    method = absl::StrFormat(
        "by clusters of embeddings at cosine >= %.3f (%.1fs)", d.split_similarity,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  p.split =
      groups.empty()
          ? StratifiedSplit(p.data.class_index, d.val_fraction, d.test_fraction, d.split_seed)
          : GroupSplit(p.data.class_index, groups, d.val_fraction, d.test_fraction, d.split_seed);
  const size_t distinct = std::set<std::string>(groups.begin(), groups.end()).size();
  const TrainTestSimilarity nearest = NearestTrainTestSimilarity(p.data.x, p.split);
  log << "Split (" << d.split_by << ", " << method
      << (groups.empty() ? "" : absl::StrCat(", ", distinct, " groups")) << ", seed "
      << d.split_seed << "): train " << p.split.train.size() << ", val " << p.split.val.size()
      << ", test " << p.split.test.size() << "\n";
  log << absl::StrFormat(
      "  nearest training protein of each test protein: cosine max %.4f ('%s' ~ '%s'), mean "
      "%.4f\n",
      nearest.max, nearest.test_id, nearest.train_id, nearest.mean);
  p.split_record = {{"by", d.split_by},
                    {"method", method},
                    {"seed", d.split_seed},
                    {"nearest_train_test_cosine",
                     {{"max", nearest.max},
                      {"mean", nearest.mean},
                      {"test_id", nearest.test_id},
                      {"train_id", nearest.train_id}}}};
  if (!groups.empty()) p.split_record["groups"] = distinct;
  if (d.split_by == "similarity") p.split_record["similarity"] = d.split_similarity;
  if (p.split.train.empty() || p.split.val.empty() || p.split.test.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the split left a part empty (train ", p.split.train.size(), ", val ",
                     p.split.val.size(), ", test ", p.split.test.size(), "): too few ",
                     groups.empty() ? "proteins" : "groups", " for data.split fractions"));
  }
  return absl::OkStatus();
}

}  // namespace

DatasetOptions DatasetOptionsFor(const TrainConfig& config) {
  DatasetOptions options;
  options.dir = config.data.dir;
  options.cache_dir = config.data.cache_dir;
  options.class_files = config.data.class_files;
  options.labels = config.data.labels;
  options.embedding_files = config.data.embeddings;
  options.label_set = config.data.label_set;
  options.warn_on_label_errors = config.data.label_errors == "warn";
  options.pool_residues = config.data.pool_residues;
  options.id_map = config.data.id_map;
  options.fasta = config.data.fasta;
  return options;
}

absl::StatusOr<PreparedData> PrepareData(const TrainConfig& config, std::ostream& log) {
  PreparedData p;
  auto start = std::chrono::steady_clock::now();
  ARG_ASSIGN_OR_RETURN(p.data, LoadDataset(DatasetOptionsFor(config)));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintDataReport(p.data, log);
  log << absl::StrFormat("  loaded in %.2fs\n", seconds);
  ARG_ASSIGN_OR_RETURN(p.scheme, MakeLabelScheme(config.task, p.data.class_names));
  p.labels = RowLabels(p.data, p.scheme);
  ARG_RETURN_IF_ERROR(SplitData(config, p, log));
  return p;
}

absl::StatusOr<FitOutcome> FinishRun(const TrainConfig& config, const PreparedData& p,
                                     TrainResult trained, std::ostream& log, nlohmann::json extra) {
  FitOutcome out;
  const std::vector<std::string>& labels = p.scheme.labels;
  std::vector<int> val_truth, test_truth;
  for (size_t r : p.split.val) val_truth.push_back(p.labels[r]);
  for (size_t r : p.split.test) test_truth.push_back(p.labels[r]);
  const std::vector<float> val_probs = PredictProbabilities(trained.model, p.data.x, p.split.val);
  out.val = Evaluate(val_truth, val_probs, labels);
  const std::vector<float> test_probs = PredictProbabilities(trained.model, p.data.x, p.split.test);
  out.test = Evaluate(test_truth, test_probs, labels);
  const nlohmann::json intervals =
      BootstrapIntervals(test_truth, test_probs, labels, config.card.bootstrap_resamples, 0.95,
                         config.data.split_seed);
  log << "Best epoch " << trained.best_epoch << " (val loss " << trained.best_val_loss << ")\n";
  log << "Validation:\n" << FormatReport(out.val) << "Test:\n" << FormatReport(out.test);
  if (intervals.contains("macro_f1")) {
    log << absl::StrFormat(
        "  test macro F1 %.4f, 95%% interval [%.4f, %.4f] (%d bootstrap resamples)\n",
        MacroF1(out.test), intervals["macro_f1"][0].get<double>(),
        intervals["macro_f1"][1].get<double>(), config.card.bootstrap_resamples);
  }
  ARG_ASSIGN_OR_RETURN(FittedDecision decision, FitDecision(config, p, val_probs, test_probs, log));
  out.train = std::move(trained);

  extra["model"] = config.output.name;
  extra["best_epoch"] = out.train.best_epoch;
  extra["stopped_early"] = out.train.stopped_early;
  extra["synthetic_data"] = p.data.synthetic();
  extra["decision"] = decision.card;
  // `card`: the published version's model.json, or what a run that published nothing has of it.
  auto write_report = [&](const std::string& dir, int64_t version,
                          const nlohmann::json& card) -> absl::Status {
    if (version > 0) extra["version"] = version;
    absl::Status s = WriteRunReport(dir, out.train.history, &out.val, out.test, labels, extra);
    if (s.ok()) {
      s = WriteReliabilityChart((fs::path(dir) / "reliability.png").string(), decision.test_before,
                                decision.test_after, decision.policy.temperature);
    }
    if (s.ok()) s = WriteHtmlCard(dir, card, extra);
    if (s.ok()) s = WriteFileDurably((fs::path(dir) / "config.yaml").string(), ConfigYaml(config));
    if (!s.ok()) RemoveTree(dir);  // a report that could not be written whole is not left
    return s;
  };
  const fs::path reports = fs::path(config.output.report_dir) / config.output.name;
  ARG_ASSIGN_OR_RETURN(std::optional<ServingScore> serving,
                       ScoreServingVersion(config, p, test_truth, log));
  const PublishGate gate{config.publish.min_macro_f1, config.publish.min_class_f1,
                         config.publish.tolerance};
  const GateVerdict verdict = JudgeCandidate(gate, out.test, serving);
  log << absl::StrFormat("Publish gate: test macro F1 %.4f", MacroF1(out.test));
  if (serving) log << absl::StrFormat(" (%s: %.4f)", serving->name, serving->macro_f1);
  log << (verdict.publish
              ? ", passed\n"
              : absl::StrCat(", refused: ", absl::StrJoin(verdict.reasons, "; "), "\n"));
  extra["publish_gate"] = {{"passed", verdict.publish}, {"reasons", verdict.reasons}};
  if (!config.output.publish || !verdict.publish) {
    out.report_dir = (reports / RunId()).string();
    const nlohmann::json card = {{"name", config.output.name},
                                 {"task", config.task},
                                 {"input_dim", p.data.x.dim},
                                 {"labels", labels},
                                 {"metrics",
                                  {{"val", MetricsToJson(out.val)},
                                   {"test", MetricsToJson(out.test)},
                                   {"test_intervals", intervals}}},
                                 {"decision", decision.card},
                                 {"dataset", DatasetJson(config, p)},
                                 {"review", ReviewJson(config, p)}};
    ARG_RETURN_IF_ERROR(write_report(out.report_dir, 0, card));
    log << "Report: " << out.report_dir << "\n";
    if (!verdict.publish && config.output.publish) {
      return absl::FailedPreconditionError(
          absl::StrCat("not published: ", absl::StrJoin(verdict.reasons, "; "),
                       " (report: ", out.report_dir, ")"));
    }
    return out;
  }
  const std::string model_dir = (fs::path(config.output.repository) / config.output.name).string();
  if (!config.publish.label.empty()) ARG_RETURN_IF_ERROR(PinStable(model_dir, log));
  // The report is written before the version is published, so a report that cannot be written
  // (a full disk) publishes nothing: into a hidden directory named for the version being
  // claimed, renamed to v<version> once the version is published.
  PackageInputs inputs{&config, &p, &out.train, &out.val, &out.test, intervals, &decision};
  std::string staged;
  absl::StatusOr<PublishedVersion> published = PublishVersion(
      config.output.repository, config.output.name,
      [&](const std::string& dir, int64_t version) -> absl::Status {
        ARG_ASSIGN_OR_RETURN(const nlohmann::json card, WriteModelPackage(dir, version, inputs));
        if (!staged.empty()) RemoveTree(staged);  // written for a number another run took
        staged = (reports / absl::StrCat(".v", version, "-", RunId(), ".tmp")).string();
        return write_report(staged, version, card);
      });
  if (!published.ok()) {
    if (!staged.empty()) RemoveTree(staged);
    return published.status();
  }
  out.published = *published;
  log << "Published " << config.output.name << " version " << published->version << " -> "
      << published->path << "\n";
  if (!config.publish.label.empty()) {
    ARG_RETURN_IF_ERROR(SetLabel(model_dir, config.publish.label, published->version, log));
  }
  out.report_dir = (reports / absl::StrCat("v", published->version)).string();
  RemoveTree(out.report_dir);  // a report of an earlier model that had this version number
  std::error_code ec;
  fs::rename(staged, out.report_dir, ec);
  if (ec) out.report_dir = staged;  // the report is whole; only its name is not the usual one
  log << "Report: " << out.report_dir << "\n";
  return out;
}

absl::StatusOr<FitOutcome> RunFit(const TrainConfig& config, std::ostream& log) {
  ARG_ASSIGN_OR_RETURN(PreparedData p, PrepareData(config, log));
  log << "Training " << config.output.name << " (" << config.model.kind << ", task " << config.task
      << ", " << config.experiment.optimizer << ", lr " << config.experiment.lr << ", batch "
      << config.experiment.batch_size << ", " << config.experiment.epochs << " epochs)\n";
  ARG_ASSIGN_OR_RETURN(TrainResult trained,
                       TrainClassifier(config, p.data.x, p.labels, p.scheme.labels, p.split, log));
  return FinishRun(config, p, std::move(trained), log);
}

absl::StatusOr<FitOutcome> RunSweep(const TrainConfig& config, std::ostream& log) {
  ARG_ASSIGN_OR_RETURN(PreparedData p, PrepareData(config, log));
  Rng rng(config.sweep.seed);
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<TrialRow> rows;
  std::optional<TrainResult> best;
  TrainConfig best_config = config;
  for (int t = 1; t <= config.sweep.trials; ++t) {
    if (t > 1 && config.sweep.time_budget_s > 0 && elapsed() >= config.sweep.time_budget_s) {
      log << "sweep: time budget of " << config.sweep.time_budget_s << "s reached after "
          << rows.size() << " trial(s)\n";
      break;
    }
    TrainConfig trial = TrialConfig(config, rng);
    log << absl::StrFormat("trial %d/%d: lr %.2e batch %d dropout %.2f hidden %s epochs %d\n", t,
                           config.sweep.trials, trial.experiment.lr, trial.experiment.batch_size,
                           trial.model.dropout, HiddenText(trial.model.hidden),
                           trial.experiment.epochs);
    double trial_start = elapsed();
    ARG_ASSIGN_OR_RETURN(TrainResult r,
                         TrainClassifier(trial, p.data.x, p.labels, p.scheme.labels, p.split, log));
    const EpochStats& at_best = r.history[std::max(0, r.best_epoch - 1)];
    rows.push_back({t, trial.experiment.lr, trial.model.dropout, r.best_val_loss,
                    at_best.val_accuracy, at_best.val_f1, elapsed() - trial_start,
                    trial.experiment.batch_size, trial.experiment.epochs, r.best_epoch,
                    trial.model.hidden});
    if (!best || r.best_val_loss < best->best_val_loss) {
      best = std::move(r);
      best_config = trial;
    }
  }
  if (!best) return absl::InternalError("sweep: no trial ran");
  std::sort(rows.begin(), rows.end(),
            [](const TrialRow& a, const TrialRow& b) { return a.val_loss < b.val_loss; });
  const std::string sweep_dir =
      (fs::path(config.output.report_dir) / config.output.name / ("sweep-" + RunId())).string();
  ARG_RETURN_IF_ERROR(WriteLeaderboard(sweep_dir, rows));
  log << "Leaderboard (by validation loss): " << sweep_dir << "/leaderboard.md\n";
  log << absl::StrFormat("best: trial %d, val loss %.4f\n", rows.front().trial,
                         rows.front().val_loss);
  nlohmann::json extra = {
      {"sweep_dir", sweep_dir}, {"best_trial", rows.front().trial}, {"trials_run", rows.size()}};
  return FinishRun(best_config, p, std::move(*best), log, extra);
}

namespace {

// The model's label per row of `data`: each class through the card's recorded mapping, or a class
// named like one of the model's labels; cards without a mapping (older trainers) by the task.
absl::StatusOr<std::vector<int>> TruthForModel(const ModelCard& card, const std::string& card_path,
                                               const Dataset& data) {
  const nlohmann::json mapping = card.dataset.value("label_of_class", nlohmann::json::object());
  std::vector<int> label_of_class;
  if (mapping.empty()) {
    ARG_ASSIGN_OR_RETURN(LabelScheme scheme, MakeLabelScheme(card.task, data.class_names));
    if (scheme.labels != card.labels) {
      return absl::InvalidArgumentError(
          absl::StrCat(card_path, ": labels [", absl::StrJoin(card.labels, ", "),
                       "] are not what task '", card.task, "' makes of the data's classes [",
                       absl::StrJoin(data.class_names, ", "), "]"));
    }
    label_of_class = scheme.label_of_class;
  }
  for (size_t c = 0; c < data.class_names.size() && !mapping.empty(); ++c) {
    const std::string& name = data.class_names[c];
    const std::string label = mapping.contains(name) ? mapping.at(name).get<std::string>() : name;
    auto at = std::find(card.labels.begin(), card.labels.end(), label);
    if (at == card.labels.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the data has the class '", name, "', which ", card.name, " v", card.version,
          " neither was trained on nor outputs (its labels: ", absl::StrJoin(card.labels, ", "),
          ")"));
    }
    label_of_class.push_back(static_cast<int>(at - card.labels.begin()));
  }
  std::vector<int> truth;
  for (int c : data.class_index) truth.push_back(label_of_class[c]);
  return truth;
}

// How many evaluated proteins the model saw in training, by id or by identical embedding; a
// warning in the log when any. No split record (older trainers): nothing can be said, and the
// log says so.
absl::StatusOr<int64_t> CountSeenInTraining(const ModelCard& card, const std::string& model_dir,
                                            const Dataset& data, std::ostream& log) {
  const nlohmann::json record = card.dataset.value("split_record", nlohmann::json::object());
  if (record.empty()) {
    log << "note: " << model_dir << " records no split (split.tsv); overlap with its training "
        << "data cannot be checked\n";
    return 0;
  }
  const std::string path = (fs::path(model_dir) / record.value("file", kSplitRecordFile)).string();
  ARG_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
  if (sha != record.value("sha256", "")) {
    return absl::DataLossError(absl::StrCat(path, ": sha256 ", sha, " is not the card's"));
  }
  ARG_ASSIGN_OR_RETURN(SplitRecord split, ReadSplitRecord(path));
  int64_t by_id = 0, by_embedding = 0, either = 0;
  for (size_t i = 0; i < data.x.rows(); ++i) {
    auto id = split.part_of_id.find(data.x.ids[i]);
    auto digest = split.part_of_digest.find(EmbeddingDigest(data.x.row(i), data.x.dim));
    const bool id_seen = id != split.part_of_id.end() && id->second == "train";
    const bool embedding_seen = digest != split.part_of_digest.end() && digest->second == "train";
    by_id += id_seen;
    by_embedding += embedding_seen;
    either += id_seen || embedding_seen;
  }
  if (either > 0) {
    log << "warning: " << either << " of the " << data.x.rows() << " evaluated proteins were in "
        << card.name << " v" << card.version << "'s training split (" << by_id << " by id, "
        << by_embedding << " by identical embedding): these figures overstate how it does on "
        << "proteins it has not seen\n";
  }
  return either;
}

absl::Status WritePredictions(const std::string& path, const Dataset& data,
                              const std::vector<int>& truth, const std::vector<float>& probs,
                              const std::vector<std::string>& labels) {
  std::string csv = "id,truth,call";
  for (const std::string& label : labels) absl::StrAppend(&csv, ",", CsvField("prob_" + label));
  csv += "\n";
  const size_t k = labels.size();
  for (size_t i = 0; i < data.x.rows(); ++i) {
    const float* p = probs.data() + i * k;
    const size_t call = std::max_element(p, p + k) - p;
    absl::StrAppend(&csv, CsvField(data.x.ids[i]), ",", CsvField(labels[truth[i]]), ",",
                    CsvField(labels[call]));
    for (size_t j = 0; j < k; ++j) absl::StrAppend(&csv, absl::StrFormat(",%.6f", p[j]));
    csv += "\n";
  }
  return WriteFileDurably(path, csv);
}

}  // namespace

absl::StatusOr<EvalOutcome> RunEval(const EvalOptions& options, std::ostream& log) {
  const std::string& model_dir = options.model_dir;
  const std::string card_path = ModelCardPath(model_dir), model_path = ModelFilePath(model_dir);
  ARG_ASSIGN_OR_RETURN(ModelCard card, ReadVerifiedPackage(model_dir));
  std::vector<std::string> overrides = options.overrides;
  overrides.push_back("data.dir=" + options.data_dir);
  absl::StatusOr<TrainConfig> config = options.config_path.empty()
                                           ? TrainingConfigOf(card, model_dir, overrides)
                                           : LoadTrainConfig(options.config_path, overrides);
  if (!config.ok()) return config.status();
  ARG_ASSIGN_OR_RETURN(torch::jit::Module module, LoadTorchScript(model_path));
  ARG_ASSIGN_OR_RETURN(Dataset data, LoadDataset(DatasetOptionsFor(*config)));
  if (data.x.dim != card.input_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("data has dimension ", data.x.dim, ", the model expects ", card.input_dim));
  }
  PrintDataReport(data, log);
  ARG_ASSIGN_OR_RETURN(std::vector<int> truth, TruthForModel(card, card_path, data));
  EvalOutcome out;
  ARG_ASSIGN_OR_RETURN(out.seen_in_training, CountSeenInTraining(card, model_dir, data, log));
  std::vector<size_t> rows(data.x.rows());
  std::iota(rows.begin(), rows.end(), size_t{0});
  ARG_ASSIGN_OR_RETURN(std::vector<float> probs, RunTorchScriptOnRows(module, data.x, rows));
  out.metrics = Evaluate(truth, probs, card.labels);
  log << "Evaluation of " << card.name << " v" << card.version << " on " << options.data_dir
      << ":\n"
      << FormatReport(out.metrics);
  std::vector<std::string> prediction_files;
  if (!options.predictions.empty()) prediction_files.push_back(options.predictions);
  if (!options.report_dir.empty()) {
    ARG_RETURN_IF_ERROR(WriteRunReport(options.report_dir, {}, nullptr, out.metrics, card.labels,
                                       {{"model", card.name},
                                        {"version", card.version},
                                        {"data_dir", options.data_dir},
                                        {"seen_in_training", out.seen_in_training},
                                        {"synthetic_data", data.synthetic()}}));
    prediction_files.push_back((fs::path(options.report_dir) / "predictions.csv").string());
    log << "Report: " << options.report_dir << "\n";
  }
  for (const std::string& path : prediction_files) {
    ARG_RETURN_IF_ERROR(WritePredictions(path, data, truth, probs, card.labels));
    log << "Predictions: " << path << "\n";
  }
  return out;
}

}  // namespace arginator::trainer
