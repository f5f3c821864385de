#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/blas_threads.h"
#include "server/model/model.h"

namespace arginator::server {

struct TorchScriptOptions {
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
};

// Loads a TorchScript classifier (input [N, input_dim] float32, output [N, C] probabilities) onto
// the device. Forward runs in InferenceMode; on CUDA, inputs go through a pinned host buffer and an
// asynchronous copy. Torch exceptions stop here and come back as absl::Status naming the file.
// The process-wide thread settings belong to main (torch::set_num_threads).
absl::StatusOr<std::unique_ptr<Model>> LoadTorchScriptModel(const std::string& path, int input_dim,
                                                            const TorchScriptOptions& options);

// Validates a device string against this LibTorch build: INVALID_ARGUMENT for a malformed one,
// FAILED_PRECONDITION for CUDA without a CUDA build or device.
absl::Status CheckTorchDevice(const std::string& device);

// Sets LibTorch's intra-op thread count and the BLAS pool under it to the same number (0 leaves
// both at their defaults); returns what the BLAS ended up with, for the startup log.
BlasInfo SetTorchThreads(int intra_op_threads);

}  // namespace arginator::server
