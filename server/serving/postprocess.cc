#include "server/serving/postprocess.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace arginator::server {

absl::Status Postprocess(RowsView probs, RowsView inputs, const std::vector<float>& norms,
                         const ModelCard& card, const DensityModel* density, Verdicts& out) {
  const DecisionPolicy& policy = card.decision;
  const auto k = static_cast<int>(probs.cols);
  out.rows.resize(static_cast<size_t>(probs.rows));
  out.calibrated.resize(static_cast<size_t>(probs.size()));
  out.label_counts.assign(card.labels.size(), 0);
  out.out_of_distribution = 0;
  out.uncertain = 0;
  for (int64_t i = 0; i < probs.rows; ++i) {
    const float* row = probs.row(i);
    for (int64_t c = 0; c < probs.cols; ++c) {
      if (!std::isfinite(row[c])) {
        return absl::InternalError(absl::StrCat("the model's output for embedding ", i,
                                                " is not finite (", row[c], " for '",
                                                card.labels[static_cast<size_t>(c)], "')"));
      }
    }
    RowVerdict& v = out.rows[static_cast<size_t>(i)];
    v.class_index = static_cast<int>(std::max_element(row, row + probs.cols) - row);
    v.score = row[v.class_index];
    v.out_of_distribution = norms[i] < card.input_norm.min || norms[i] > card.input_norm.max;
    v.ood_score = 0;
    if (density != nullptr) {
      v.ood_score = static_cast<float>(density->Score(inputs.row(i)));
      v.out_of_distribution = v.out_of_distribution || v.ood_score > policy.ood_cutoff;
    }
    float* calibrated = out.calibrated.data() + i * probs.cols;
    CalibrateRow(row, k, policy.temperature, calibrated);
    const RowDecision d = Decide(calibrated, k, v.out_of_distribution, policy);
    v.call = d.call;
    v.call_probability = d.top_probability;
    v.confidence = d.confidence;
    ++out.label_counts[static_cast<size_t>(v.class_index)];
    out.out_of_distribution += v.out_of_distribution;
    out.uncertain += d.call < 0;
  }
  return absl::OkStatus();
}

const std::string& CallName(const ModelCard& card, const RowVerdict& verdict) {
  static const std::string kUncertain = kUncertainCall;
  return verdict.call < 0 ? kUncertain : card.labels[static_cast<size_t>(verdict.call)];
}

}  // namespace arginator::server
