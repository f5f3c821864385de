#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "trainer/calibration.h"
#include "trainer/metrics.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {

// Writes a run's report directory:
//   metrics.json (`summary` merged with the val/test metrics), history.csv (one row per epoch),
//   training_curves.png (loss, accuracy and F1 per epoch), roc.png, confusion_matrix.png.
// `history` may be empty (evaluation-only reports skip the curves); `val` may be null.
// The reliability diagram of the test split before and after calibration (decision_fit.h): mean
// top probability against accuracy per bin, the diagonal being perfect calibration.
absl::Status WriteReliabilityChart(const std::string& path,
                                   const std::vector<ReliabilityBin>& before,
                                   const std::vector<ReliabilityBin>& after, double temperature);

absl::Status WriteRunReport(const std::string& dir, const std::vector<EpochStats>& history,
                            const ClassificationMetrics* val, const ClassificationMetrics& test,
                            const std::vector<std::string>& labels, nlohmann::json summary);

// Writes <dir>/report.html (html_card.h) for `card` (model.json's document, or the parts a run
// that published nothing has) and `run` (the metrics.json summary), showing the charts
// WriteRunReport and WriteReliabilityChart left in `dir`.
absl::Status WriteHtmlCard(const std::string& dir, const nlohmann::json& card,
                           const nlohmann::json& run);

// history.csv text for `history` (header + one line per epoch).
std::string HistoryCsv(const std::vector<EpochStats>& history);

}  // namespace arginator::trainer
