#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/decision_policy.h"
#include "common/matrix_view.h"
#include "common/model_card.h"
#include "server/model/reference_set.h"

namespace arginator::server {

// What the server says about one embedding, from its row of probabilities, its input and norm
// and the card's decision policy (common/decision_policy.h).
struct RowVerdict {
  int class_index = 0;               // argmax of the model's probabilities (first of equal maxima)
  float score = 0;                   // its probability, as the model gave it
  bool out_of_distribution = false;  // norm outside the training range, or density past its cut-off
  float ood_score = 0;               // the density score (0 when the version has no detector)
  int call = -1;                     // the label called, or -1: "uncertain"
  float call_probability = 0;        // the calibrated probability of the top calibrated label
  Confidence confidence = Confidence::kLow;
  bool evidence_disagrees = false;  // evidence asked for, and the nearest reference's label is not
                                    // the call
};

// One request's verdicts and their totals (for metrics).
struct Verdicts {
  std::vector<RowVerdict> rows;
  std::vector<float> calibrated;      // [rows, labels], the calibrated probabilities
  std::vector<int64_t> label_counts;  // indexed like card.labels
  int64_t out_of_distribution = 0;
  int64_t uncertain = 0;
  // The nearest references, when the request asked for them: evidence_k per row, most similar
  // first; indices into the version's reference table (-1: none) and cosine similarities.
  int evidence_k = 0;
  std::vector<int64_t> evidence_index;
  std::vector<float> evidence_cosine;
  std::vector<float> unit_rows;  // the inputs, L2-normalised for the search
};

// The post-processing step of the request path, a plain function of the forward's output, the
// inputs and the version: argmax and score per row; out of distribution from `norms` (one per
// row) against card.input_norm [min, max] and from `density` (may be null) against the card's
// cut-off; calibration, call and confidence by card.decision; and the totals. Fills `out`,
// reusing its capacity. Requires probs.cols == card.labels.size(), inputs.rows == probs.rows and
// norms.size() == probs.rows. `density_scores` (null: computed here) are the density's scores of
// the rows when the batcher computed them with the forward. A row with a NaN or infinite
// probability is INTERNAL, naming the row: the model could not compute that input, and an argmax
// over NaN would answer an arbitrary label.
absl::Status Postprocess(RowsView probs, RowsView inputs, const std::vector<float>& norms,
                         const ModelCard& card, const DensityModel* density, Verdicts& out,
                         const double* density_scores = nullptr);

// The evidence step, after Postprocess, for a request that asked for `k` > 0 nearest references
// of `references` (the version's; never null here): searches the L2-normalised inputs and marks
// each called row whose nearest reference has another label.
void FindEvidence(RowsView inputs, const std::vector<float>& norms, const ReferenceSet& references,
                  int k, Verdicts& out);

// The label a verdict calls: the label's name, or "uncertain".
const std::string& CallName(const ModelCard& card, const RowVerdict& verdict);

}  // namespace arginator::server
