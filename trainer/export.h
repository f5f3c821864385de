#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "trainer/model.h"

namespace arginator::trainer {

// Builds a self-contained TorchScript module from a trained classifier without Python: the weights
// are registered as parameters and forward is defined in TorchScript source with builtin ops.
// Contract: input [N, input_dim] float32, output [N, num_classes] softmax probabilities, eval mode
// (no dropout). Loads in C++ (torch::jit::load) and Python (torch.jit.load). Layer i's weight is
// the parameter `wt<i>`, stored [in, out] contiguous, its bias `b<i>`; the int attributes
// `row_chunk` and `chunked_max_rows` choose the small-batch CPU path (see export.cc).
torch::jit::Module ExportTorchScript(Classifier& model);

// The same classifier with every Linear layer as a dynamically quantized int8 op
// (quantized::linear_dynamic with prepacked weights, per-output-channel symmetric int8 weights;
// activations quantized per call, over the whole batch, with reduce_range for CPUs without VNNI),
// also built without Python. Same input/output contract; runs on the CPU only, with the quantized
// engine `engine` ("onednn" here; QuantizedEngineError says when a build cannot). The layer-i
// packed weights are the attribute `p<i>`.
absl::StatusOr<torch::jit::Module> ExportInt8TorchScript(Classifier& model,
                                                         const std::string& engine);

// Runs a TorchScript classifier on `n` rows of `dim` floats; returns row-major probabilities.
// Torch errors come back as INVALID_ARGUMENT with the message.
absl::StatusOr<std::vector<float>> RunTorchScript(torch::jit::Module& module, const float* rows,
                                                  int64_t n, int dim);

// RunTorchScript over `rows` of `x`, 4096 rows per forward; row-major probabilities.
absl::StatusOr<std::vector<float>> RunTorchScriptOnRows(torch::jit::Module& module,
                                                        const EmbeddingMatrix& x,
                                                        const std::vector<size_t>& rows);

// torch::jit::load with errors as absl::Status naming the file.
absl::StatusOr<torch::jit::Module> LoadTorchScript(const std::string& path);

}  // namespace arginator::trainer
