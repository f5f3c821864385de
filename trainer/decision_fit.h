#pragma once

#include <ostream>
#include <vector>

#include "absl/status/statusor.h"
#include "common/decision_policy.h"
#include "nlohmann/json.hpp"
#include "trainer/calibration.h"
#include "trainer/config.h"
#include "trainer/pipeline.h"

namespace arginator::trainer {

// The file beside model.pt holding the density detector's mean and principal directions.
inline constexpr char kDensityFile[] = "density.npy";

// A version's decision policy, fitted on its validation split and measured on its test split.
struct FittedDecision {
  nlohmann::json card;  // model.json "decision"; its density file's sha256 added when written
  DecisionPolicy policy;
  DensityModel density;
  std::vector<ReliabilityBin> test_before, test_after;  // the reliability diagram's two curves
};

// A probabilistic PCA of `rows` of `x` with at most `components` components (fewer when there
// are fewer rows or dimensions).
DensityModel FitDensityModel(const EmbeddingMatrix& x, const std::vector<size_t>& rows,
                             int components);

// Calibration (config decision.calibration), thresholds (decision.objective, target_precision),
// confidence cut-off and the out-of-distribution cut-off (decision.ood_*), all chosen on the
// validation split; then the whole policy applied to the test split, with shuffled and random
// copies of its proteins, so the card says what each part does. `val_probs` and `test_probs`
// are the model's probabilities on those splits. Logs a summary.
absl::StatusOr<FittedDecision> FitDecision(const TrainConfig& config, const PreparedData& p,
                                           const std::vector<float>& val_probs,
                                           const std::vector<float>& test_probs, std::ostream& log);

// Writes the density detector into `dir` and records its sha256 in `fitted.card`.
absl::Status WriteDensityFile(const std::string& dir, FittedDecision& fitted);

}  // namespace arginator::trainer
