#include "common/embedding_matrix.h"

#include <cmath>

namespace arginator {

double RowL2Norm(const float* row, int dim) {
  double sum = 0.0;
  for (int j = 0; j < dim; ++j) sum += static_cast<double>(row[j]) * row[j];
  return std::sqrt(sum);
}

}  // namespace arginator
