#pragma once

#include <optional>
#include <string>
#include <vector>

namespace arginator::trainer {

// Calibration and thresholds, fitted on the validation split (trainer/decision_fit.h puts them
// in the card). Probabilities are row-major [n, k]; truth holds a label index per row.

// The temperature T minimising the mean negative log-likelihood of softmax(log p / T), found by
// golden-section search on log T in [1/20, 20] (the likelihood is convex in 1/T, so it has one
// minimum there). 1 when there are no rows.
double FitTemperature(const std::vector<float>& probs, const std::vector<int>& truth, int k);

// Every row calibrated with `temperature` (common/decision_policy.h CalibrateRow).
std::vector<float> CalibrateAll(const std::vector<float>& probs, int k, double temperature);

// One bin of a reliability diagram: rows whose top probability lies in [lo, hi).
struct ReliabilityBin {
  double lo = 0, hi = 0;
  int64_t count = 0;
  double confidence = 0;  // mean top probability
  double accuracy = 0;    // fraction whose top label is the truth
};
std::vector<ReliabilityBin> Reliability(const std::vector<float>& probs,
                                        const std::vector<int>& truth, int k, int bins = 15);

// Expected calibration error over equal-width bins of the top probability (Guo et al. 2017):
// sum over bins of count/n * |accuracy - confidence|.
double ExpectedCalibrationError(const std::vector<float>& probs, const std::vector<int>& truth,
                                int k, int bins = 15);

// A label's threshold on the calibrated probability of rows whose most probable label it is.
struct LabelThreshold {
  std::optional<double> threshold;   // none: no threshold meets the objective; never called
  double precision = 0, recall = 0;  // on validation, at the threshold
  int64_t called = 0;                // validation rows called this label at the threshold
  int64_t predicted = 0;             // validation rows whose most probable label it is
  int64_t support = 0;               // validation rows whose truth it is
};

// Per label: objective "precision" takes the lowest threshold whose precision reaches `target`
// (the most proteins called at that precision); "f1" the threshold of the best F1.
std::vector<LabelThreshold> ChooseThresholds(const std::vector<float>& calibrated,
                                             const std::vector<int>& truth, int k,
                                             const std::string& objective, double target);

}  // namespace arginator::trainer
