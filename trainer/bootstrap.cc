#include "trainer/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "trainer/metrics.h"
#include "trainer/random.h"

namespace arginator::trainer {
namespace {

// The q-quantile of `values` (sorted here), linear between closest ranks; NaN values (an
// undefined ROC-AUC in a resample without positives) are left out.
double Quantile(std::vector<double> values, double q) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double pos = q * (values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - lo);
}

}  // namespace

nlohmann::json BootstrapIntervals(const std::vector<int>& truth,
                                  const std::vector<float>& probabilities,
                                  const std::vector<std::string>& labels, int resamples,
                                  double level, uint64_t seed) {
  const size_t n = truth.size(), k = labels.size();
  std::map<std::string, std::vector<double>> samples;
  Rng rng(seed);
  std::vector<int> t(n);
  std::vector<float> p(n * k);
  for (int b = 0; b < resamples && n > 0; ++b) {
    for (size_t i = 0; i < n; ++i) {
      const size_t r = rng.Below(n);
      t[i] = truth[r];
      std::copy_n(probabilities.begin() + r * k, k, p.begin() + i * k);
    }
    const ClassificationMetrics m = Evaluate(t, p, labels);
    samples["accuracy"].push_back(m.accuracy);
    samples["precision"].push_back(m.precision);
    samples["recall"].push_back(m.recall);
    samples["f1"].push_back(m.f1);
    samples["roc_auc"].push_back(m.roc_auc);
    samples["macro_f1"].push_back(MacroF1(m));
    for (const ClassReport& c : m.per_class) {
      samples["per_class/" + c.label + "/precision"].push_back(c.precision);
      samples["per_class/" + c.label + "/recall"].push_back(c.recall);
      samples["per_class/" + c.label + "/f1"].push_back(c.f1);
    }
  }
  nlohmann::json out = {{"method", "percentile bootstrap over the test proteins"},
                        {"resamples", resamples},
                        {"level", level},
                        {"seed", seed}};
  const double lo = (1 - level) / 2, hi = (1 + level) / 2;
  for (const auto& [key, values] : samples) {
    const nlohmann::json interval = {Quantile(values, lo), Quantile(values, hi)};
    if (key.rfind("per_class/", 0) == 0) {
      const size_t slash = key.rfind('/');
      out["per_class"][key.substr(10, slash - 10)][key.substr(slash + 1)] = interval;
    } else {
      out[key] = interval;
    }
  }
  return out;
}

}  // namespace arginator::trainer
