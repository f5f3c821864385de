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
// the parameter `wt<i>`, stored [in, out] contiguous, its bias `b<i>`; the int list `row_plan`
// chooses how small CPU batches run, empty here: the server fills it at load (see export.cc).
torch::jit::Module ExportTorchScript(Classifier& model);

// What an int8 module's activations are quantized over: layer i's input is clamped to
// [ranges[i].lo, ranges[i].hi] (fixed at compress time, from training rows) before its int8
// product, so a row's answer never depends on the other rows of its batch.
struct ActivationRange {
  float lo = 0;
  float hi = 0;
};
struct Int8Calibration {
  std::vector<ActivationRange> ranges;  // one per Linear layer: the range of its input
  int64_t rows = 0;                     // the calibration rows
  std::string rows_sha256;              // of their float32 bytes, row-major, in the order used
};

// The fp32 classifier's layer inputs over `x` ([rows, input_dim]): each layer's min and max (the
// hidden layers' inputs are ReLU outputs, so their lo is 0). Nothing is clipped on these rows.
Int8Calibration CalibrateActivations(Classifier& model, const torch::Tensor& x);

// The same classifier with every Linear layer as an int8 op (per-output-channel symmetric int8
// weights, prepacked; uint8 activations with reduce_range for CPUs without VNNI), also built
// without Python. Activations are quantized over the static `ranges` (CalibrateActivations), not
// over each batch: LibTorch 1.13's static quantize is a scalar loop (~4x slower than the int8
// products), so the module runs quantized::linear_dynamic on its input with one extra row that
// holds each range's ends, after clamping to the range; the batch's min and max, and so the scale
// and zero point the op derives, are then the calibrated ones whatever the other rows hold, and the
// int32 products are exact, so a row's probabilities are identical alone and in any batch. Same
// input/output contract; CPU only, with the quantized engine `engine` ("onednn" here;
// QuantizedEngineError says when a build cannot). Layer i's packed weights are the attribute
// `p<i>`, its range row `r<i>`.
absl::StatusOr<torch::jit::Module> ExportInt8TorchScript(
    Classifier& model, const std::string& engine, const std::vector<ActivationRange>& ranges);

// Runs a TorchScript classifier on `n` rows of `dim` floats; returns row-major probabilities.
// Torch errors come back as INVALID_ARGUMENT with the message.
absl::StatusOr<std::vector<float>> RunTorchScript(torch::jit::Module& module, const float* rows,
                                                  int64_t n, int dim);

// RunTorchScript over `rows` of `x`, 4096 rows per forward; row-major probabilities.
absl::StatusOr<std::vector<float>> RunTorchScriptOnRows(torch::jit::Module& module,
                                                        const EmbeddingMatrix& x,
                                                        const std::vector<size_t>& rows);

// Runs each row of `x` ([n, dim], the golden examples) alone and checks it gives what the same
// rows gave as one batch (`batch_probs`) within kBatchInvarianceTolerance
// (common/batch_invariance.h); FAILED_PRECONDITION naming `what` and the row otherwise. Publishing
// runs it: a version whose answers depend on the batch is not published.
absl::Status CheckGoldenRowsAlone(torch::jit::Module& module, const torch::Tensor& x,
                                  const std::vector<float>& batch_probs,
                                  const std::vector<std::string>& ids,
                                  const std::vector<std::string>& labels, const std::string& what);

// torch::jit::load with errors as absl::Status naming the file.
absl::StatusOr<torch::jit::Module> LoadTorchScript(const std::string& path);

}  // namespace arginator::trainer
