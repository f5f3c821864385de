#include "trainer/export.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/batch_invariance.h"
#include "common/quantized_engines.h"
#include "common/sha256.h"
#include "trainer/training_loop.h"

namespace arginator::trainer {
namespace {

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

Int8Calibration CalibrateActivations(Classifier& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const auto& layers = model->layers();
  Int8Calibration c;
  c.ranges.assign(layers.size(), ActivationRange{std::numeric_limits<float>::max(),
                                                 std::numeric_limits<float>::lowest()});
  const torch::Tensor rows = x.to(torch::kCPU).to(torch::kFloat32).contiguous();
  c.rows = rows.size(0);
  c.rows_sha256 = Sha256Hex(std::string_view(static_cast<const char*>(rows.data_ptr()),
                                             static_cast<size_t>(rows.nbytes())));
  constexpr int64_t kChunk = 4096;
  for (int64_t start = 0; start < c.rows; start += kChunk) {
    torch::Tensor h = rows.narrow(0, start, std::min(kChunk, c.rows - start));
    for (size_t i = 0; i < layers.size(); ++i) {
      if (i > 0) h = torch::relu(h);
      c.ranges[i].lo = std::min(c.ranges[i].lo, h.min().item<float>());
      c.ranges[i].hi = std::max(c.ranges[i].hi, h.max().item<float>());
      h = torch::linear(h, layers[i]->weight.to(torch::kCPU), layers[i]->bias.to(torch::kCPU));
    }
  }
  // The quantized op's range always holds 0 (and ReLU's output starts there): clamping above a
  // positive minimum would move rows the op could represent.
  for (ActivationRange& r : c.ranges) {
    r.lo = std::min(r.lo, 0.0f);
    r.hi = std::max(r.hi, 0.0f);
  }
  return c;
}

absl::StatusOr<torch::jit::Module> ExportInt8TorchScript(
    Classifier& model, const std::string& engine, const std::vector<ActivationRange>& ranges) {
  const auto& layers = model->layers();
  if (ranges.size() != layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "int8 export: ", ranges.size(), " activation ranges for ", layers.size(), " layers"));
  }
  for (const ActivationRange& r : ranges) {
    if (!(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo <= r.hi)) {
      return absl::InvalidArgumentError(
          absl::StrCat("int8 export: activation range [", r.lo, ", ", r.hi, "] is not finite"));
    }
  }
  if (absl::Status s = SetQuantizedEngine(engine).status(); !s.ok()) return s;
  try {
    torch::jit::Module module("ArginatorInt8Classifier");
    // Layer 0's input: the rows clamped straight into a buffer one row longer (one pass over the
    // input), the range row last. The later layers clamp their input in place.
    std::string body =
        "def forward(self, x):\n"
        "    n = x.size(0)\n"
        "    h = torch.empty([n + 1, x.size(1)], dtype=x.dtype)\n"
        "    torch.clamp(x, " +
        absl::StrFormat("%.9g, %.9g", ranges[0].lo, ranges[0].hi) +
        ", out=h.narrow(0, 0, n))\n"
        "    h[n] = self.r0\n";
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string p = absl::StrCat("p", i), r = absl::StrCat("r", i);
      const c10::IValue packed = PrepackLinear(layers[i]->weight, layers[i]->bias);
      module.register_attribute(p, packed.type(), packed);
      // The range row: the range's ends alternating (hi first, so a one-wide layer still holds
      // hi; the op always includes 0 in its range). Clamping keeps every other row inside.
      const int64_t width = layers[i]->weight.size(1);
      torch::Tensor row = torch::full({width}, ranges[i].lo);
      row.index_put_({torch::indexing::Slice(0, torch::indexing::None, 2)}, ranges[i].hi);
      module.register_attribute(r, c10::TensorType::get(), row);
      if (i > 0) {
        absl::StrAppend(&body, "    h.clamp_(",
                        absl::StrFormat("%.9g, %.9g", ranges[i].lo, ranges[i].hi), ")\n",
                        "    h[n] = self.", r, "\n");
      }
      // reduce_range: 7-bit activations, which CPUs without VNNI need.
      absl::StrAppend(&body, "    h = quantized.linear_dynamic(h, self.", p, ", True)\n");
    }
    absl::StrAppend(&body, "    return torch.softmax(h.narrow(0, 0, n), 1)\n");
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
  // How a batch of n rows runs on the CPU is `row_plan[n]` (for n < len(row_plan)):
  //  - 0: each row through matrix-vector products (GEMV reads the weight once, no packing);
  //  - c in [1, n): the first layer in chunks of c rows, which OpenBLAS may compute with its
  //    small-matrix kernel straight from the weight where one GEMM call would pack it first;
  //  - n or more: one GEMM per layer.
  // Past the plan (and on CUDA) one row takes its GEMV and more rows one GEMM.
  // Which wins at which size depends on the CPU and OpenBLAS's kernels for it, so the export
  // bakes no plan in (every batch is one GEMM): the server measures the paths at load on the
  // machine that serves (TorchScriptOptions::tune_small_batches). Every path computes the same
  // probabilities to ~1e-7.
  module.register_attribute("row_plan", c10::ListType::ofInts(), c10::List<int64_t>());
  std::string one_row, first_chunked, rest;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string w = absl::StrCat("self.wt", i), b = absl::StrCat("self.b", i);
    module.register_parameter(absl::StrCat("wt", i),
                              layers[i]->weight.detach().to(torch::kCPU).t().contiguous().clone(),
                              false);
    module.register_parameter(absl::StrCat("b", i),
                              layers[i]->bias.detach().to(torch::kCPU).clone(), false);
    const bool last = i + 1 == layers.size();
    const std::string v_in = i == 0 ? "v" : absl::StrCat("v", i - 1);
    const std::string mv = absl::StrCat("torch.mv(", w, ".t(), ", v_in, ") + ", b);
    absl::StrAppend(&one_row,
                    last ? absl::StrCat("    return torch.softmax((", mv, ").unsqueeze(0), 1)\n")
                         : absl::StrCat("    v", i, " = torch.relu(", mv, ")\n"));
    if (i == 0) {
      first_chunked = absl::StrCat(
          "        parts: List[Tensor] = []\n"
          "        for c in torch.split(x, chunk):\n"
          "            parts.append(torch.addmm(",
          b, ", c, ", w,
          "))\n"
          "        h = torch.cat(parts)\n"
          "    else:\n"
          "        h = torch.addmm(",
          b, ", x, ", w, ")\n");
    } else {
      absl::StrAppend(&rest, "    h = torch.addmm(", b, ", torch.relu(h), ", w, ")\n");
    }
  }
  module.define(absl::StrCat("def one_row(self, v: Tensor) -> Tensor:\n", one_row,
                             "\n"
                             "def forward(self, x):\n"
                             "    n = x.size(0)\n"
                             "    chunk = n\n"
                             "    if n < len(self.row_plan) and not x.is_cuda:\n"
                             "        chunk = self.row_plan[n]\n"
                             "    elif n == 1:\n"
                             "        chunk = 0\n"
                             "    if chunk == 0:\n"
                             "        if n == 1:\n"
                             "            return self.one_row(x[0])\n"
                             "        rows: List[Tensor] = []\n"
                             "        for r in range(n):\n"
                             "            rows.append(self.one_row(x[r]))\n"
                             "        return torch.cat(rows)\n"
                             "    if chunk < n:\n",
                             first_chunked, rest, "    return torch.softmax(h, 1)\n"));
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

absl::Status CheckGoldenRowsAlone(torch::jit::Module& module, const torch::Tensor& x,
                                  const std::vector<float>& batch_probs,
                                  const std::vector<std::string>& ids,
                                  const std::vector<std::string>& labels, const std::string& what) {
  const torch::Tensor rows = x.to(torch::kCPU).to(torch::kFloat32).contiguous();
  auto forward = [&](const float* r, int64_t n, float* out) -> absl::Status {
    auto probs = RunTorchScript(module, r, n, static_cast<int>(rows.size(1)));
    if (!probs.ok()) return probs.status();
    if (probs->size() != static_cast<size_t>(n) * labels.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", probs->size() / std::max<int64_t>(n, 1), " outputs per row for ",
                       labels.size(), " labels"));
    }
    std::copy(probs->begin(), probs->end(), out);
    return absl::OkStatus();
  };
  return CheckRowsAloneMatchBatch(forward, rows.data_ptr<float>(), rows.size(0), rows.size(1),
                                  batch_probs.data(), ids, labels, what);
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
