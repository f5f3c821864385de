#include "common/batch_invariance.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_format.h"

namespace arginator {

absl::Status CheckRowsAloneMatchBatch(RowsForward forward, const float* rows, int64_t n,
                                      int64_t dim, const float* batch_out,
                                      absl::Span<const std::string> ids,
                                      absl::Span<const std::string> columns,
                                      const std::string& what) {
  const int64_t cols = static_cast<int64_t>(columns.size());
  std::vector<float> alone(static_cast<size_t>(cols));
  for (int64_t i = 0; i < n; ++i) {
    if (absl::Status s = forward(rows + i * dim, 1, alone.data()); !s.ok()) return s;
    for (int64_t k = 0; k < cols; ++k) {
      const float in_batch = batch_out[i * cols + k];
      if (!(std::abs(alone[k] - in_batch) <= kBatchInvarianceTolerance)) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s: answers depend on the batch: golden example '%s' alone gives %s = %.8g, in a "
            "batch of %d %.8g (more than %g apart); an int8 version quantized per batch (before "
            "static activation ranges) does this: compress its fp32 parent again",
            what, i < static_cast<int64_t>(ids.size()) ? ids[i] : std::to_string(i), columns[k],
            alone[k], n, in_batch, kBatchInvarianceTolerance));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace arginator
