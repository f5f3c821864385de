#include "trainer/calibration.h"

#include <algorithm>
#include <cmath>

#include "common/decision_policy.h"

namespace arginator::trainer {
namespace {

double MeanNll(const std::vector<float>& probs, const std::vector<int>& truth, int k, double t) {
  std::vector<float> row(static_cast<size_t>(k));
  double sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    CalibrateRow(probs.data() + i * k, k, t, row.data());
    sum -=
        std::log(std::max<double>(row[static_cast<size_t>(truth[i])], kMinCalibratedProbability));
  }
  return sum / static_cast<double>(std::max<size_t>(1, truth.size()));
}

int Top(const float* row, int k) { return static_cast<int>(std::max_element(row, row + k) - row); }

}  // namespace

double FitTemperature(const std::vector<float>& probs, const std::vector<int>& truth, int k) {
  if (truth.empty()) return 1.0;
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double a = std::log(1.0 / 20), b = std::log(20.0);
  double c = b - phi * (b - a), d = a + phi * (b - a);
  double fc = MeanNll(probs, truth, k, std::exp(c)), fd = MeanNll(probs, truth, k, std::exp(d));
  for (int i = 0; i < 60; ++i) {
    if (fc <= fd) {
      b = d, d = c, fd = fc;
      c = b - phi * (b - a);
      fc = MeanNll(probs, truth, k, std::exp(c));
    } else {
      a = c, c = d, fc = fd;
      d = a + phi * (b - a);
      fd = MeanNll(probs, truth, k, std::exp(d));
    }
  }
  const double t = std::exp((a + b) / 2);
  // Keep T = 1 unless scaling measurably helps (a flat likelihood moves nothing).
  return MeanNll(probs, truth, k, t) < MeanNll(probs, truth, k, 1.0) - 1e-9 ? t : 1.0;
}

std::vector<float> CalibrateAll(const std::vector<float>& probs, int k, double temperature) {
  std::vector<float> out(probs.size());
  for (size_t i = 0; i + k <= probs.size(); i += k) {
    CalibrateRow(probs.data() + i, k, temperature, out.data() + i);
  }
  return out;
}

std::vector<ReliabilityBin> Reliability(const std::vector<float>& probs,
                                        const std::vector<int>& truth, int k, int bins) {
  std::vector<ReliabilityBin> out(static_cast<size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    out[b].lo = static_cast<double>(b) / bins;
    out[b].hi = static_cast<double>(b + 1) / bins;
  }
  for (size_t i = 0; i < truth.size(); ++i) {
    const float* row = probs.data() + i * k;
    const int top = Top(row, k);
    const int b = std::min(bins - 1, static_cast<int>(row[top] * bins));
    out[b].count += 1;
    out[b].confidence += row[top];
    out[b].accuracy += top == truth[i];
  }
  for (ReliabilityBin& bin : out) {
    if (bin.count == 0) continue;
    bin.confidence /= static_cast<double>(bin.count);
    bin.accuracy /= static_cast<double>(bin.count);
  }
  return out;
}

double ExpectedCalibrationError(const std::vector<float>& probs, const std::vector<int>& truth,
                                int k, int bins) {
  if (truth.empty()) return 0;
  double ece = 0;
  for (const ReliabilityBin& bin : Reliability(probs, truth, k, bins)) {
    ece += static_cast<double>(bin.count) * std::abs(bin.accuracy - bin.confidence);
  }
  return ece / static_cast<double>(truth.size());
}

std::vector<LabelThreshold> ChooseThresholds(const std::vector<float>& calibrated,
                                             const std::vector<int>& truth, int k,
                                             const std::string& objective, double target) {
  std::vector<LabelThreshold> out(static_cast<size_t>(k));
  std::vector<std::vector<std::pair<float, bool>>> candidates(static_cast<size_t>(k));
  for (size_t i = 0; i < truth.size(); ++i) {
    const float* row = calibrated.data() + i * k;
    const int top = Top(row, k);
    candidates[top].push_back({row[top], top == truth[i]});
    out[truth[i]].support += 1;
  }
  for (int c = 0; c < k; ++c) {
    LabelThreshold& t = out[c];
    auto& rows = candidates[c];
    t.predicted = static_cast<int64_t>(rows.size());
    // Most probable first; a threshold is a probability some row has, and rows tied with it are
    // called together, so only the last of a run of equal probabilities is a place to stop.
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    int64_t correct = 0;
    double best_f1 = -1;
    for (size_t i = 0; i < rows.size(); ++i) {
      correct += rows[i].second;
      if (i + 1 < rows.size() && rows[i + 1].first == rows[i].first) continue;
      const double precision = static_cast<double>(correct) / static_cast<double>(i + 1);
      const double recall = t.support > 0 ? static_cast<double>(correct) / t.support : 0;
      const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
      const bool take = objective == "f1" ? f1 > best_f1 : precision >= target;
      if (!take) continue;
      best_f1 = f1;
      t.threshold = rows[i].first;
      t.precision = precision;
      t.recall = recall;
      t.called = static_cast<int64_t>(i + 1);
    }
  }
  return out;
}

}  // namespace arginator::trainer
