#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/blas_threads.h"
#include "server/model/model.h"

namespace arginator::server {

struct TorchScriptOptions {
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  // Models exported by arginator-train carry no choice of how small CPU batches run (the fastest
  // path depends on the CPU and OpenBLAS's kernels for it). true: at load, time the paths (one
  // GEMM; rows one by one through GEMV; first-layer chunks of 2 or 4 rows) at each size from 1
  // row until one GEMM keeps winning, on this machine, and keep the fastest per size
  // (Model::ExecutionPlan says what was chosen). Measured once per layer shapes in a process
  // (~30-60 ms); later versions of the same architecture reuse it. Every path computes the same
  // probabilities to ~1e-7. Models exported with the older single threshold (`chunked_max_rows`)
  // get that threshold tuned. false: one GEMM for every batch of 2 rows or more. CPU only.
  bool tune_small_batches = true;
  // model.json's quantization.engine for an int8 model ("onednn"), empty for a float one. Such a
  // model loads only on the CPU and with a LibTorch that has that quantized engine; else the load
  // fails with FAILED_PRECONDITION saying why, and other models keep serving.
  std::string quantized_engine;
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

// Picks the process's quantized engine at startup (onednn, the fast one for int8 on x86, when
// this build has it; else the first it has) and returns the startup log's description, e.g.
// "quantized engine onednn (this build: qnnpack, onednn)".
std::string ConfigureQuantizedEngine();

// Sets LibTorch's intra-op thread count and the BLAS pool under it to the same number (0 leaves
// both at their defaults); returns what the BLAS ended up with, for the startup log.
BlasInfo SetTorchThreads(int intra_op_threads);

}  // namespace arginator::server
