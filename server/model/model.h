#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace arginator::server {

// Row-major float matrix: the result of a forward pass.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols
};

// A loaded classifier that runs whole batches; it knows nothing of requests or batching.
// Implementations: TorchScriptModel (the only code that includes torch) and fakes in tests.
// Thread-compatible: one DynamicBatcher thread calls Forward at a time.
class Model {
 public:
  virtual ~Model() = default;

  // `rows` holds n * input_dim floats. Returns [n, classes] probabilities.
  virtual absl::StatusOr<Matrix> Forward(const float* rows, int64_t n) = 0;

  virtual int input_dim() const = 0;
};

}  // namespace arginator::server
