#include "server/serving/postprocess.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace arginator::server {

absl::Status Postprocess(RowsView probs, const std::vector<float>& norms, const ModelCard& card,
                         Verdicts& out) {
  out.rows.resize(static_cast<size_t>(probs.rows));
  out.label_counts.assign(card.labels.size(), 0);
  out.out_of_distribution = 0;
  for (int64_t i = 0; i < probs.rows; ++i) {
    const float* row = probs.row(i);
    for (int64_t k = 0; k < probs.cols; ++k) {
      if (!std::isfinite(row[k])) {
        return absl::InternalError(absl::StrCat("the model's output for embedding ", i,
                                                " is not finite (", row[k], " for '",
                                                card.labels[static_cast<size_t>(k)], "')"));
      }
    }
    RowVerdict& v = out.rows[static_cast<size_t>(i)];
    v.class_index = static_cast<int>(std::max_element(row, row + probs.cols) - row);
    v.score = row[v.class_index];
    v.out_of_distribution = norms[i] < card.input_norm.min || norms[i] > card.input_norm.max;
    ++out.label_counts[static_cast<size_t>(v.class_index)];
    out.out_of_distribution += v.out_of_distribution;
  }
  return absl::OkStatus();
}

}  // namespace arginator::server
