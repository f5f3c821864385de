#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer/config.h"
#include "trainer/dataset.h"
#include "trainer/label_scheme.h"
#include "trainer/metrics.h"
#include "trainer/publish.h"
#include "trainer/split.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {

// The subcommands of arginator-train, as functions so tests drive them without a process.

// Data loaded, validated, labelled for the task and split.
struct PreparedData {
  Dataset data;
  LabelScheme scheme;       // the data's classes -> the model's labels
  std::vector<int> labels;  // the model's label per row
  SplitIndices split;
  nlohmann::json split_record;  // how the split was made, for the card and the report
};

struct FitOutcome {
  TrainResult train;
  ClassificationMetrics val, test;
  std::optional<PublishedVersion> published;
  std::string report_dir;
};

// The data section of a config as LoadDataset's options.
DatasetOptions DatasetOptionsFor(const TrainConfig& config);

absl::StatusOr<PreparedData> PrepareData(const TrainConfig& config, std::ostream& log);

// Evaluates a trained model on val and test, writes the report, and publishes it (if configured)
// as TorchScript + model.json. `extra` is merged into the report's metrics.json.
absl::StatusOr<FitOutcome> FinishRun(const TrainConfig& config, const PreparedData& prepared,
                                     TrainResult trained, std::ostream& log,
                                     nlohmann::json extra = nlohmann::json::object());

// `arginator-train fit`: prepare, train, finish.
absl::StatusOr<FitOutcome> RunFit(const TrainConfig& config, std::ostream& log);

// `arginator-train sweep`: random search (config.sweep), leaderboard, then finish the best trial.
absl::StatusOr<FitOutcome> RunSweep(const TrainConfig& config, std::ostream& log);

// `arginator-train eval`: a published model against a data set laid out as the model's own
// training data was (the card's recorded data config: class files or labels table, id map),
// in `data_dir`; a `config_path` replaces the recorded config, `overrides` go on top. Classes map
// to the model's labels as the card records (dataset.label_of_class). Verifies model.pt against
// model.json's sha256 first. Warns when evaluated proteins were in the model's training split
// (split.tsv: by id or by identical embedding). Writes per-protein predictions (id, truth, call,
// one probability per label) to `predictions` and to the report directory when set.
struct EvalOptions {
  std::string model_dir, data_dir, config_path, report_dir, predictions;
  std::vector<std::string> overrides;
};

struct EvalOutcome {
  ClassificationMetrics metrics;
  int64_t seen_in_training = 0;  // evaluated proteins in the model's train split (id or embedding)
};

absl::StatusOr<EvalOutcome> RunEval(const EvalOptions& options, std::ostream& log);

}  // namespace arginator::trainer
