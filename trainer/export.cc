#include "trainer/export.h"

#include "absl/strings/str_cat.h"

namespace arginator::trainer {
namespace {

// Row-chunking of the first layer for small CPU batches (see ExportTorchScript). Stored as module
// attributes, so a deployment on another CPU can retune them without retraining.
constexpr int64_t kRowChunk = 2;
constexpr int64_t kChunkedMaxRows = 12;
// Chunking only pays where packing the weight dominates: layers narrower than this run as is.
constexpr int64_t kChunkMinOutputs = 64;

}  // namespace

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
