#include "trainer/export.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/quantized_engines.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {
namespace {

// Row-chunking of the first layer for small CPU batches (see ExportTorchScript). Stored as module
// attributes, so a deployment on another CPU can retune them without retraining.
constexpr int64_t kRowChunk = 2;
constexpr int64_t kChunkedMaxRows = 12;
// Chunking only pays where packing the weight dominates: layers narrower than this run as is.
constexpr int64_t kChunkMinOutputs = 64;

// TorchScript's default resolver does not see torch.ops.*: `quantized` names the quantized op
// namespace and `torch` the aten builtins.
struct QuantizedOpsResolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name,
                                                         torch::jit::GraphFunction&,
                                                         const torch::jit::SourceRange&) override {
    if (name == "quantized") return std::make_shared<torch::jit::BuiltinModule>("quantized");
    if (name == "torch") return std::make_shared<torch::jit::BuiltinModule>("aten");
    return nullptr;
  }
};

// quantized::linear_prepack of an int8 weight and its bias, for quantized::linear_dynamic.
c10::IValue PrepackLinear(const torch::Tensor& weight, const torch::Tensor& bias) {
  const torch::Tensor w = weight.detach().to(torch::kCPU).contiguous();
  // Symmetric per output channel: each row's largest magnitude maps to 127.
  const torch::Tensor scales = (w.abs().amax(1).clamp_min(1e-12) / 127.0).to(torch::kDouble);
  const torch::Tensor zero_points = torch::zeros({w.size(0)}, torch::kLong);
  torch::jit::Stack stack{torch::quantize_per_channel(w, scales, zero_points, 0, torch::kQInt8),
                          c10::optional<at::Tensor>(bias.detach().to(torch::kCPU).contiguous())};
  // A typed call with the generic packed-params type is refused; the boxed call is not.
  c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "").callBoxed(&stack);
  return stack.at(0);
}

}  // namespace

absl::StatusOr<torch::jit::Module> ExportInt8TorchScript(Classifier& model,
                                                         const std::string& engine) {
  if (absl::Status s = SetQuantizedEngine(engine).status(); !s.ok()) return s;
  try {
    torch::jit::Module module("ArginatorInt8Classifier");
    const auto& layers = model->layers();
    std::string body = "def forward(self, x):\n    h = x\n";
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string name = absl::StrCat("p", i);
      const c10::IValue packed = PrepackLinear(layers[i]->weight, layers[i]->bias);
      module.register_attribute(name, packed.type(), packed);
      // reduce_range: 7-bit activations, which CPUs without VNNI need to avoid overflow.
      absl::StrAppend(&body, "    h = quantized.linear_dynamic(h, self.", name, ", True)\n");
      if (i + 1 < layers.size()) absl::StrAppend(&body, "    h = torch.relu(h)\n");
    }
    absl::StrAppend(&body, "    return torch.softmax(h, 1)\n");
    module.define(body, std::make_shared<QuantizedOpsResolver>());
    module.eval();
    return module;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("building the int8 module failed: ", e.what()));
  }
}

torch::jit::Module ExportTorchScript(Classifier& model) {
  torch::jit::Module module("ArginatorClassifier");
  const auto& layers = model->layers();
  // Weights are stored transposed, [in, out] contiguous (the layout optimize_for_inference
  // produces): OpenBLAS packs the [out, in] layout far more slowly on every GEMM call.
  // Three paths with the same weights, picked by the number of rows:
  //  - one row: matrix-vector products (GEMV reads the weight once, no packing);
  //  - up to chunked_max_rows rows on CPU: the first layer in chunks of row_chunk rows, which
  //    OpenBLAS computes with its small-matrix kernel straight from the weight, where one GEMM
  //    call would pack the whole weight first (the "batch 4 is slower than batch 2" cliff);
  //  - more rows (or CUDA): one GEMM per layer.
  // docs/benchmarks.md has the measurements behind the thresholds.
  module.register_attribute("row_chunk", c10::IntType::get(), kRowChunk);
  module.register_attribute(
      "chunked_max_rows", c10::IntType::get(),
      layers.front()->weight.size(0) >= kChunkMinOutputs ? kChunkedMaxRows : int64_t{1});
  std::string single, first_chunked, first_whole, rest;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string w = absl::StrCat("self.wt", i), b = absl::StrCat("self.b", i);
    module.register_parameter(absl::StrCat("wt", i),
                              layers[i]->weight.detach().to(torch::kCPU).t().contiguous().clone(),
                              false);
    module.register_parameter(absl::StrCat("b", i),
                              layers[i]->bias.detach().to(torch::kCPU).clone(), false);
    const bool last = i + 1 == layers.size();
    const std::string v_in = i == 0 ? "x[0]" : absl::StrCat("v", i - 1);
    const std::string mv = absl::StrCat("torch.mv(", w, ".t(), ", v_in, ") + ", b);
    absl::StrAppend(
        &single, last ? absl::StrCat("        return torch.softmax((", mv, ").unsqueeze(0), 1)\n")
                      : absl::StrCat("        v", i, " = torch.relu(", mv, ")\n"));
    if (i == 0) {
      first_chunked = absl::StrCat(
          "        parts: List[Tensor] = []\n"
          "        for c in torch.split(x, self.row_chunk):\n"
          "            parts.append(torch.addmm(",
          b, ", c, ", w,
          "))\n"
          "        h = torch.cat(parts)\n");
      first_whole = absl::StrCat("        h = torch.addmm(", b, ", x, ", w, ")\n");
    } else {
      absl::StrAppend(&rest, "    h = torch.addmm(", b, ", torch.relu(h), ", w, ")\n");
    }
  }
  module.define(
      absl::StrCat("def forward(self, x):\n"
                   "    n = x.size(0)\n"
                   "    if n == 1:\n",
                   single, "    if n <= self.chunked_max_rows and not x.is_cuda:\n", first_chunked,
                   "    else:\n", first_whole, rest, "    return torch.softmax(h, 1)\n"));
  module.eval();
  return module;
}

absl::StatusOr<std::vector<float>> RunTorchScript(torch::jit::Module& module, const float* rows,
                                                  int64_t n, int dim) {
  try {
    torch::InferenceMode guard;
    torch::Tensor input = torch::from_blob(const_cast<float*>(rows), {n, dim}, torch::kFloat32);
    torch::Tensor out = module.forward({input}).toTensor().to(torch::kCPU).contiguous();
    return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
  } catch (const std::exception& e) {  // c10::Error and the interpreter's runtime errors
    return absl::InvalidArgumentError(absl::StrCat("TorchScript forward failed: ", e.what()));
  }
}

absl::StatusOr<std::vector<float>> RunTorchScriptOnRows(torch::jit::Module& module,
                                                        const EmbeddingMatrix& x,
                                                        const std::vector<size_t>& rows) {
  std::vector<float> out;
  constexpr size_t kChunk = 4096;
  for (size_t start = 0; start < rows.size(); start += kChunk) {
    const std::vector<size_t> chunk(rows.begin() + start,
                                    rows.begin() + std::min(rows.size(), start + kChunk));
    const torch::Tensor input = GatherRows(x, chunk);
    auto probs =
        RunTorchScript(module, input.data_ptr<float>(), static_cast<int64_t>(chunk.size()), x.dim);
    if (!probs.ok()) return probs.status();
    out.insert(out.end(), probs->begin(), probs->end());
  }
  return out;
}

absl::StatusOr<torch::jit::Module> LoadTorchScript(const std::string& path) {
  try {
    torch::jit::Module module = torch::jit::load(path, torch::kCPU);
    module.eval();
    return module;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a loadable TorchScript file: ", e.what()));
  }
}

}  // namespace arginator::trainer
