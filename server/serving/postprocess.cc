#include "server/serving/postprocess.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace arginator::server {

absl::Status Postprocess(RowsView probs, RowsView inputs, const std::vector<float>& norms,
                         const ModelCard& card, const DensityModel* density, Verdicts& out,
                         const double* density_scores) {
  const DecisionPolicy& policy = card.decision;
  const auto k = static_cast<int>(probs.cols);
  out.rows.resize(static_cast<size_t>(probs.rows));
  out.calibrated.resize(static_cast<size_t>(probs.size()));
  out.label_counts.assign(card.labels.size(), 0);
  out.out_of_distribution = 0;
  out.uncertain = 0;
  out.evidence_k = 0;
  std::vector<double> computed;
  if (density != nullptr && density_scores == nullptr) {
    computed.resize(static_cast<size_t>(probs.rows));
    density->ScoreRows(inputs.row(0), inputs.rows, computed.data());
    density_scores = computed.data();
  }
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
      v.ood_score = static_cast<float>(density_scores[i]);
      v.out_of_distribution = v.out_of_distribution || density_scores[i] > policy.ood_cutoff;
    }
    float* calibrated = out.calibrated.data() + i * probs.cols;
    CalibrateRow(row, k, policy.temperature, calibrated);
    const RowDecision d = Decide(calibrated, k, v.out_of_distribution, policy);
    v.call = d.call;
    v.call_probability = d.top_probability;
    v.confidence = d.confidence;
    v.evidence_disagrees = false;
    ++out.label_counts[static_cast<size_t>(v.class_index)];
    out.out_of_distribution += v.out_of_distribution;
    out.uncertain += d.call < 0;
  }
  return absl::OkStatus();
}

void FindEvidence(RowsView inputs, const std::vector<float>& norms, const ReferenceSet& references,
                  int k, Verdicts& out) {
  const int64_t n = inputs.rows;
  out.unit_rows.resize(inputs.size());
  for (int64_t i = 0; i < n; ++i) {
    const float scale =
        norms[static_cast<size_t>(i)] > 0 ? 1.0f / norms[static_cast<size_t>(i)] : 0;
    const float* row = inputs.row(i);
    float* unit = out.unit_rows.data() + i * inputs.cols;
    for (int64_t j = 0; j < inputs.cols; ++j) unit[j] = row[j] * scale;
  }
  out.evidence_k = k;
  out.evidence_index.assign(static_cast<size_t>(n * k), -1);
  out.evidence_cosine.assign(static_cast<size_t>(n * k), 0);
  references.search->Search(RowsView(out.unit_rows.data(), n, inputs.cols), k,
                            out.evidence_index.data(), out.evidence_cosine.data());
  for (int64_t i = 0; i < n; ++i) {
    RowVerdict& v = out.rows[static_cast<size_t>(i)];
    const int64_t nearest = out.evidence_index[static_cast<size_t>(i * k)];
    v.evidence_disagrees =
        v.call >= 0 && nearest >= 0 && references.labels[static_cast<size_t>(nearest)] != v.call;
  }
}

const std::string& CallName(const ModelCard& card, const RowVerdict& verdict) {
  static const std::string kUncertain = kUncertainCall;
  return verdict.call < 0 ? kUncertain : card.labels[static_cast<size_t>(verdict.call)];
}

}  // namespace arginator::server
