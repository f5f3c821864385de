#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
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
  // from output.cols returns OutputContractError saying "outputs C columns per row": checked on
  // every forward, not only at load, because a model may answer some inputs with another shape.
  virtual absl::Status Forward(RowsView input, MutableRowsView output) = 0;

  virtual int input_dim() const = 0;

  // How this model runs batches of each size on this machine, when it chose at load (e.g.
  // "2-3 rows: one by one (GEMV); 4-12: chunks of 2; 13+: one GEMM"); empty otherwise.
  virtual std::string ExecutionPlan() const { return ""; }
};

// The error of a forward whose output breaks the model's contract (its shape): INTERNAL, marked
// so that the server takes the version out of service (ModelRegistry::MarkFailed) instead of
// treating it as one request's failure.
inline constexpr char kOutputContractPayload[] = "arginator/output-contract";
inline absl::Status OutputContractError(absl::string_view message) {
  absl::Status status = absl::InternalError(message);
  status.SetPayload(kOutputContractPayload, absl::Cord("1"));
  return status;
}
inline bool IsOutputContractError(const absl::Status& status) {
  return status.GetPayload(kOutputContractPayload).has_value();
}

}  // namespace arginator::server
