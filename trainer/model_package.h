#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/model_card.h"
#include "trainer/config.h"
#include "trainer/decision_fit.h"
#include "trainer/metrics.h"
#include "trainer/pipeline.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {

// Everything a published version is made from.
struct PackageInputs {
  const TrainConfig* config;
  const PreparedData* prepared;
  TrainResult* trained;
  const ClassificationMetrics* val;
  const ClassificationMetrics* test;
  nlohmann::json test_intervals;  // BootstrapIntervals of the test metrics
  FittedDecision* decision;       // the decision policy (its density file is written beside)
};

// Writes <dir>/model.pt (TorchScript, softmax output) and <dir>/model.json (the model card) for
// `version`. Golden probabilities are computed by the saved-and-reloaded TorchScript, i.e. by the
// exact file a server will load. Returns the model.json document it wrote.
absl::StatusOr<nlohmann::json> WriteModelPackage(const std::string& dir, int64_t version,
                                                 const PackageInputs& in);

// The card's `dataset` (files, digests, classes, split) and `review` (embedder, label source,
// intended use) sections for a run's data; a run that publishes nothing shows them in its report.
nlohmann::json DatasetJson(const TrainConfig& config, const PreparedData& p);
nlohmann::json ReviewJson(const TrainConfig& config, const PreparedData& p);

// The training config a card records (model.json keeps it resolved), with `overrides` on top,
// every key checked again; FAILED_PRECONDITION when the card records none.
absl::StatusOr<TrainConfig> TrainingConfigOf(const ModelCard& card, const std::string& model_dir,
                                             const std::vector<std::string>& overrides);

// L2-norm statistics of the given rows, with quantiles, for the model card.
NormStats ComputeNormStats(const EmbeddingMatrix& x, const std::vector<size_t>& rows);

}  // namespace arginator::trainer
