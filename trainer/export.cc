#include "trainer/export.h"

#include "absl/strings/str_cat.h"

namespace arginator::trainer {

torch::jit::Module ExportTorchScript(Classifier& model) {
  torch::jit::Module module("ArginatorClassifier");
  const auto& layers = model->layers();
  std::string body;
  std::string h = "x";
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string w = absl::StrCat("w", i), b = absl::StrCat("b", i);
    module.register_parameter(w, layers[i]->weight.detach().to(torch::kCPU).clone(), false);
    module.register_parameter(b, layers[i]->bias.detach().to(torch::kCPU).clone(), false);
    std::string affine = absl::StrCat("torch.addmm(self.", b, ", ", h, ", self.", w, ".t())");
    if (i + 1 < layers.size()) {
      absl::StrAppend(&body, "    h", i, " = torch.relu(", affine, ")\n");
      h = absl::StrCat("h", i);
    } else {
      absl::StrAppend(&body, "    return torch.softmax(", affine, ", 1)\n");
    }
  }
  module.define(absl::StrCat("def forward(self, x):\n", body));
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
