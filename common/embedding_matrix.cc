#include "common/embedding_matrix.h"

#include <cmath>

namespace arginator {

float RowDot(const float* a, const float* b, int dim) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= dim; j += kLanes) {
    for (int k = 0; k < kLanes; ++k) lanes[k] += a[j + k] * b[j + k];
  }
  float sum = 0.f;
  for (float lane : lanes) sum += lane;
  for (; j < dim; ++j) sum += a[j] * b[j];
  return sum;
}

double RowL2Norm(const float* row, int dim) {
  const float sum = RowDot(row, row, dim);
  if (std::isfinite(sum)) return std::sqrt(static_cast<double>(sum));
  double exact = 0.0;  // overflowed, or a NaN/Inf in the row (which stays non-finite here)
  for (int j = 0; j < dim; ++j) exact += static_cast<double>(row[j]) * row[j];
  return std::sqrt(exact);
}

}  // namespace arginator
