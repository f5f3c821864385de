#include "trainer/decision_fit.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "absl/strings/str_format.h"
#include "common/embedding_files.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "trainer/model_package.h"
#include "trainer/random.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {
namespace {

using nlohmann::json;

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

// What the policy does to a set of rows, tallied for the card.
struct PolicyTally {
  int64_t rows = 0, called = 0, correct = 0, out_of_distribution = 0;
  int64_t level_rows[3] = {}, level_correct[3] = {};  // by Confidence
  std::vector<int64_t> label_called, label_correct;

  json ToJson(const std::vector<std::string>& labels) const {
    auto fraction = [](int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / b : 0.0; };
    json by_confidence = json::object();
    for (int level = 2; level >= 0; --level) {
      by_confidence[ConfidenceName(static_cast<Confidence>(level))] = {
          {"rows", level_rows[level]},
          {"accuracy_of_top_label", fraction(level_correct[level], level_rows[level])}};
    }
    json by_label = json::object();
    for (size_t c = 0; c < labels.size(); ++c) {
      by_label[labels[c]] = {{"called", label_called[c]},
                             {"precision", fraction(label_correct[c], label_called[c])}};
    }
    return {{"rows", rows},
            {"called", called},
            {"uncertain", rows - called},
            {"coverage", fraction(called, rows)},
            {"accuracy_of_calls", fraction(correct, called)},
            {"out_of_distribution", out_of_distribution},
            {"by_confidence", by_confidence},
            {"by_label", by_label}};
  }
};

// The server's whole decision for one input, as common/decision_policy.h applies it.
RowDecision DecideInput(const float* x, int dim, const float* probs, int k,
                        const DecisionPolicy& policy, const DensityModel& density,
                        const NormStats& norms, bool* out_of_distribution) {
  const double norm = RowL2Norm(x, dim);
  *out_of_distribution =
      norm < norms.min || norm > norms.max || density.Score(x) > policy.ood_cutoff;
  std::vector<float> calibrated(static_cast<size_t>(k));
  CalibrateRow(probs, k, policy.temperature, calibrated.data());
  return Decide(calibrated.data(), k, *out_of_distribution, policy);
}

}  // namespace

DensityModel FitDensityModel(const EmbeddingMatrix& x, const std::vector<size_t>& rows,
                             int components) {
  torch::NoGradGuard no_grad;
  const int dim = x.dim;
  torch::Tensor t = GatherRows(x, rows);  // float32 [n, dim]
  const auto n = t.size(0);
  torch::Tensor mean = t.mean(0);
  torch::Tensor centred = t - mean;
  // The product in float32 (the cost: n * dim^2), the eigendecomposition in float64.
  torch::Tensor cov = centred.t().mm(centred).to(torch::kFloat64) /
                      static_cast<double>(std::max<int64_t>(1, n - 1));
  auto [values, vectors] = torch::linalg::eigh(cov, "L");  // ascending
  const int k = std::max<int>(1, std::min<int>({components, static_cast<int>(n) - 1, dim - 1}));
  const double trace = cov.trace().item<double>();
  DensityModel d;
  d.dim = dim;
  torch::Tensor mean_f = mean.contiguous();
  d.mean.assign(mean_f.data_ptr<float>(), mean_f.data_ptr<float>() + dim);
  double kept = 0;
  const double top = std::max(values[dim - 1].item<double>(), 1e-12);
  for (int i = 0; i < k; ++i) {
    const int64_t at = dim - 1 - i;
    const double lambda = std::max(values[at].item<double>(), 1e-6 * top);
    kept += lambda;
    d.eigenvalues.push_back(lambda);
    torch::Tensor u = vectors.select(1, at).to(torch::kFloat32).contiguous();
    d.components.insert(d.components.end(), u.data_ptr<float>(), u.data_ptr<float>() + dim);
  }
  // The variance the components leave, spread over the other directions; floored so that a set
  // with fewer proteins than dimensions (a covariance of low rank) still gives a finite score.
  d.residual_variance = std::max((trace - kept) / (dim - k), 1e-6 * top);
  d.Prepare();
  return d;
}

absl::StatusOr<FittedDecision> FitDecision(const TrainConfig& config, const PreparedData& p,
                                           const std::vector<float>& val_probs,
                                           const std::vector<float>& test_probs,
                                           std::ostream& log) {
  const auto& cfg = config.decision;
  const std::vector<std::string>& labels = p.scheme.labels;
  const int k = static_cast<int>(labels.size());
  const int dim = p.data.x.dim;
  std::vector<int> val_truth, test_truth;
  for (size_t r : p.split.val) val_truth.push_back(p.labels[r]);
  for (size_t r : p.split.test) test_truth.push_back(p.labels[r]);

  FittedDecision out;
  DecisionPolicy& policy = out.policy;
  policy.present = true;
  policy.temperature =
      cfg.calibration == "temperature" ? FitTemperature(val_probs, val_truth, k) : 1.0;
  const std::vector<float> val_cal = CalibrateAll(val_probs, k, policy.temperature);
  const std::vector<float> test_cal = CalibrateAll(test_probs, k, policy.temperature);
  constexpr int kBins = 15;
  const double ece[2][2] = {{ExpectedCalibrationError(val_probs, val_truth, k, kBins),
                             ExpectedCalibrationError(val_cal, val_truth, k, kBins)},
                            {ExpectedCalibrationError(test_probs, test_truth, k, kBins),
                             ExpectedCalibrationError(test_cal, test_truth, k, kBins)}};
  out.test_before = Reliability(test_probs, test_truth, k, kBins);
  out.test_after = Reliability(test_cal, test_truth, k, kBins);

  const std::vector<LabelThreshold> thresholds =
      ChooseThresholds(val_cal, val_truth, k, cfg.objective, cfg.target_precision);
  json thresholds_json = json::object();
  for (int c = 0; c < k; ++c) {
    const LabelThreshold& t = thresholds[c];
    policy.thresholds.push_back(t.threshold ? *t.threshold
                                            : std::numeric_limits<double>::infinity());
    thresholds_json[labels[c]] = {{"threshold", t.threshold ? json(*t.threshold) : json()},
                                  {"val_precision", t.precision},
                                  {"val_recall", t.recall},
                                  {"val_called", t.called},
                                  {"val_top_label", t.predicted},
                                  {"val_support", t.support}};
  }
  policy.high = cfg.high_confidence;

  out.density = FitDensityModel(p.data.x, p.split.train, cfg.ood_components);
  std::vector<double> val_scores;
  for (size_t r : p.split.val) val_scores.push_back(out.density.Score(p.data.x.row(r)));
  policy.ood_cutoff = Quantile(val_scores, cfg.ood_quantile);
  policy.eigenvalues = out.density.eigenvalues;
  policy.residual_variance = out.density.residual_variance;
  policy.density_file = kDensityFile;
  const NormStats norms = ComputeNormStats(p.data.x, p.split.train);

  // The policy on the validation and test splits, and on copies of the test proteins that are not
  // proteins: each one's values shuffled, and a random direction at its norm.
  auto tally = [&](const std::vector<size_t>& rows, const std::vector<float>& probs,
                   const std::vector<int>& truth) {
    PolicyTally t;
    t.label_called.assign(k, 0);
    t.label_correct.assign(k, 0);
    for (size_t i = 0; i < rows.size(); ++i) {
      bool ood = false;
      const RowDecision d = DecideInput(p.data.x.row(rows[i]), dim, probs.data() + i * k, k, policy,
                                        out.density, norms, &ood);
      const bool right = d.top == truth[i];
      t.rows += 1;
      t.out_of_distribution += ood;
      t.level_rows[static_cast<int>(d.confidence)] += 1;
      t.level_correct[static_cast<int>(d.confidence)] += right;
      if (d.call < 0) continue;
      t.called += 1;
      t.correct += right;
      t.label_called[d.call] += 1;
      t.label_correct[d.call] += right;
    }
    return t;
  };
  const PolicyTally val_tally = tally(p.split.val, val_probs, val_truth);
  const PolicyTally test_tally = tally(p.split.test, test_probs, test_truth);
  Rng rng(config.data.split_seed ^ 0x5eedULL);
  int64_t shuffled_flagged = 0, random_flagged = 0;
  std::vector<float> probe(static_cast<size_t>(dim));
  for (size_t r : p.split.test) {
    const float* row = p.data.x.row(r);
    probe.assign(row, row + dim);
    for (int j = dim - 1; j > 0; --j) std::swap(probe[j], probe[rng.Below(j + 1)]);
    shuffled_flagged += out.density.Score(probe.data()) > policy.ood_cutoff;
    double sq = 0;
    for (float& v : probe) {
      v = static_cast<float>(rng.Normal());
      sq += static_cast<double>(v) * v;
    }
    const double scale = RowL2Norm(row, dim) / std::sqrt(sq);
    for (float& v : probe) v = static_cast<float>(v * scale);
    random_flagged += out.density.Score(probe.data()) > policy.ood_cutoff;
  }
  const auto test_rows = static_cast<double>(std::max<size_t>(1, p.split.test.size()));

  out.card = {
      {"calibration",
       {{"method", cfg.calibration == "temperature" ? "temperature scaling" : "none"},
        {"temperature", policy.temperature},
        {"fitted_on", "validation split"},
        {"fitted_rows", p.split.val.size()},
        {"ece_bins", kBins},
        {"expected_calibration_error",
         {{"val", {{"before", ece[0][0]}, {"after", ece[0][1]}}},
          {"test", {{"before", ece[1][0]}, {"after", ece[1][1]}}}}}}},
      {"objective",
       {{"kind", cfg.objective},
        {"target_precision", cfg.target_precision},
        {"chosen_on", "validation split"},
        {"applies_to", "every label, on the calibrated probability of its top-label rows"}}},
      {"thresholds", thresholds_json},
      {"confidence",
       {{"high", policy.high},
        {"levels",
         {{"High", "called, calibrated probability >= high"},
          {"Medium", "called, calibrated probability below high"},
          {"Low", "uncertain: below the label's threshold, or out of distribution"}}}}},
      {"out_of_distribution",
       {{"method", "probabilistic PCA of the training embeddings (Mahalanobis distance / dim)"},
        {"components", out.density.k()},
        {"eigenvalues", policy.eigenvalues},
        {"residual_variance", policy.residual_variance},
        {"cutoff", policy.ood_cutoff},
        {"quantile", cfg.ood_quantile},
        {"chosen_on", "validation split"},
        {"also", "L2 norm outside input_statistics.l2_norm [min, max]"},
        {"file", kDensityFile},
        {"flagged_fraction",
         {{"val", static_cast<double>(val_tally.out_of_distribution) /
                      std::max<size_t>(1, p.split.val.size())},
          {"test", test_tally.out_of_distribution / test_rows},
          {"test_shuffled", shuffled_flagged / test_rows},
          {"test_random_at_same_norm", random_flagged / test_rows}}}}},
      {"measured", {{"val", val_tally.ToJson(labels)}, {"test", test_tally.ToJson(labels)}}}};

  log << absl::StrFormat(
      "Calibration: temperature %.3f (fitted on %d validation proteins); expected calibration "
      "error on test %.4f -> %.4f\n",
      policy.temperature, p.split.val.size(), ece[1][0], ece[1][1]);
  log << "Thresholds (" << cfg.objective;
  if (cfg.objective == "precision") log << " >= " << cfg.target_precision;
  log << " on validation):";
  for (int c = 0; c < k; ++c) {
    log << " " << labels[c] << " "
        << (thresholds[c].threshold ? absl::StrFormat("%.3f", *thresholds[c].threshold)
                                    : std::string("never"));
  }
  log << "\n"
      << absl::StrFormat(
             "Out of distribution: density cut-off %.3f (%d components, %.0f%% of validation "
             "under it); test %.1f%%, shuffled test %.1f%%, random at same norm %.1f%% flagged\n",
             policy.ood_cutoff, out.density.k(), 100 * cfg.ood_quantile,
             100 * test_tally.out_of_distribution / test_rows, 100 * shuffled_flagged / test_rows,
             100 * random_flagged / test_rows)
      << absl::StrFormat("Decision on test: %d of %d called (%.1f%%), %.1f%% of calls right\n",
                         test_tally.called, test_tally.rows, 100.0 * test_tally.called / test_rows,
                         test_tally.called ? 100.0 * test_tally.correct / test_tally.called : 0.0);
  return out;
}

absl::Status WriteDensityFile(const std::string& dir, FittedDecision& fitted) {
  const DensityModel& d = fitted.density;
  EmbeddingMatrix m;
  m.dim = d.dim;
  m.ids.push_back("mean");
  m.values = d.mean;
  for (int i = 0; i < d.k(); ++i) {
    m.ids.push_back(absl::StrFormat("component_%d", i + 1));
  }
  m.values.insert(m.values.end(), d.components.begin(), d.components.end());
  const std::string path = (std::filesystem::path(dir) / kDensityFile).string();
  ARG_RETURN_IF_ERROR(WriteEmbeddingsNpy(path, m));
  ARG_ASSIGN_OR_RETURN(fitted.policy.density_sha256, Sha256File(path));
  fitted.card["out_of_distribution"]["sha256"] = fitted.policy.density_sha256;
  return absl::OkStatus();
}

}  // namespace arginator::trainer
