#pragma once

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/types/span.h"

namespace arginator {

// How far a row's output may move between being computed alone and inside a batch: fp32 kernels
// that sum in a different order for 1 row, a few rows or a large batch differ by ~1e-7, and an
// int8 version with static activation ranges by 0. Per-batch quantization (an int8 version from
// before static ranges) moves rows by 1e-3 and more, a different answer for the same protein.
inline constexpr float kBatchInvarianceTolerance = 1e-5f;

// A forward of `n` rows of the model's input width into `n` rows of its outputs.
using RowsForward = absl::FunctionRef<absl::Status(const float* rows, int64_t n, float* out)>;

// Runs each of the `n` rows of `rows` alone and compares its outputs with `batch_out`, the same
// rows' outputs computed as one batch: FAILED_PRECONDITION naming `what`, the row's id, the
// output column and both values when any differs by more than kBatchInvarianceTolerance.
absl::Status CheckRowsAloneMatchBatch(RowsForward forward, const float* rows, int64_t n,
                                      int64_t dim, const float* batch_out,
                                      absl::Span<const std::string> ids,
                                      absl::Span<const std::string> columns,
                                      const std::string& what);

}  // namespace arginator
