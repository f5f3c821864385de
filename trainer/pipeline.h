#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer/config.h"
#include "trainer/dataset.h"
#include "trainer/metrics.h"
#include "trainer/publish.h"
#include "trainer/split.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {

// The subcommands of arginator-train, as functions so tests drive them without a process.

// Data loaded, validated, labelled for the task and split.
struct PreparedData {
  Dataset data;
  std::vector<int> labels;  // task labels per row
  SplitIndices split;
};

struct FitOutcome {
  TrainResult train;
  ClassificationMetrics val, test;
  std::optional<PublishedVersion> published;
  std::string report_dir;
};

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

// `arginator-train eval`: a published model directory against the class files of
// `data_config.data` (directory, class mapping, cache); the model's own task maps classes to
// labels. Verifies model.pt against model.json's sha256 first. Writes a report if `report_dir` is
// set.
absl::StatusOr<ClassificationMetrics> RunEval(const std::string& model_dir,
                                              const TrainConfig& data_config,
                                              const std::string& report_dir, std::ostream& log);

}  // namespace arginator::trainer
