#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace arginator::trainer {

// Percentile bootstrap confidence intervals for every metric a card reports (accuracy, precision,
// recall, F1, ROC-AUC, macro F1, and each class's precision, recall and F1): `resamples` test sets
// drawn with replacement from the `truth` rows (seeded, so the card is reproducible), each
// evaluated as Evaluate() does; the interval is the [(1-level)/2, (1+level)/2] quantiles.
// A class of F1 1.0 on 9 proteins gets the wide interval it deserves.
// JSON: {"method": ..., "resamples": N, "level": 0.95, "seed": S,
//        "accuracy": [lo, hi], ..., "per_class": {"class_B": {"f1": [lo, hi], ...}}}.
nlohmann::json BootstrapIntervals(const std::vector<int>& truth,
                                  const std::vector<float>& probabilities,
                                  const std::vector<std::string>& labels, int resamples,
                                  double level, uint64_t seed);

}  // namespace arginator::trainer
