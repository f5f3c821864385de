#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/matrix_view.h"
#include "common/model_card.h"

namespace arginator::server {

// What the server says about one embedding, from its row of probabilities and its input norm.
struct RowVerdict {
  int class_index = 0;               // argmax (the first of equal maxima)
  float score = 0;                   // its probability
  bool out_of_distribution = false;  // the input's L2 norm lies outside the card's training range
};

// One request's verdicts and their totals (for metrics).
struct Verdicts {
  std::vector<RowVerdict> rows;
  std::vector<int64_t> label_counts;  // indexed like card.labels
  int64_t out_of_distribution = 0;
};

// The post-processing step of the request path, a plain function of the forward's output and the
// model card: argmax and score per row, the out-of-distribution flag from `norms` (one per row)
// against card.input_norm [min, max], and the totals. Fills `out`, reusing its capacity.
// Requires probs.cols == card.labels.size() and norms.size() == probs.rows. A row with a NaN or
// infinite probability is INTERNAL, naming the row: the model could not compute that input, and
// an argmax over NaN would answer an arbitrary label.
absl::Status Postprocess(RowsView probs, const std::vector<float>& norms, const ModelCard& card,
                         Verdicts& out);

}  // namespace arginator::server
