#pragma once

#include "absl/status/status.h"
#include "common/matrix_view.h"

namespace arginator::server {

// A loaded classifier that runs whole batches; it knows nothing of requests or batching.
// Implementations: TorchScriptModel (the only code that includes torch) and fakes in tests.
// Thread-compatible: one thread at a time calls Forward (the DynamicBatcher's executor).
class Model {
 public:
  virtual ~Model() = default;

  // `input` is [n, input_dim()]; writes [n, output.cols] probabilities into `output`, which the
  // caller owns and sizes (n rows, one column per label). A model whose output width differs
  // from output.cols returns INTERNAL saying "outputs C columns per row": checked on every
  // forward, not only at load, because a model may answer some inputs with another shape.
  virtual absl::Status Forward(RowsView input, MutableRowsView output) = 0;

  virtual int input_dim() const = 0;
};

}  // namespace arginator::server
