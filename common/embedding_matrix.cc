#include "common/embedding_matrix.h"

#include <cmath>

namespace arginator {

double RowL2Norm(const float* row, int dim) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= dim; j += kLanes) {
    for (int k = 0; k < kLanes; ++k) lanes[k] += row[j + k] * row[j + k];
  }
  float sum = 0.f;
  for (float lane : lanes) sum += lane;
  for (; j < dim; ++j) sum += row[j] * row[j];
  if (std::isfinite(sum)) return std::sqrt(static_cast<double>(sum));
  double exact = 0.0;  // overflowed, or a NaN/Inf in the row (which stays non-finite here)
  for (j = 0; j < dim; ++j) exact += static_cast<double>(row[j]) * row[j];
  return std::sqrt(exact);
}

}  // namespace arginator
