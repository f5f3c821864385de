#include "trainer/model.h"

#include "absl/strings/str_cat.h"

namespace arginator::trainer {

ClassifierImpl::ClassifierImpl(const ClassifierSpec& spec)
    : spec_(spec), dropout_(torch::nn::DropoutOptions(spec.dropout)) {
  std::vector<int> widths = {spec.input_dim};
  if (spec.kind == "ffnn") widths.insert(widths.end(), spec.hidden.begin(), spec.hidden.end());
  widths.push_back(spec.num_classes);
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    layers_.push_back(
        register_module(absl::StrCat("linear", i), torch::nn::Linear(widths[i], widths[i + 1])));
  }
  register_module("dropout", dropout_);
}

torch::Tensor ClassifierImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i + 1 < layers_.size(); ++i) {
    x = dropout_(torch::relu(layers_[i](x)));
  }
  return layers_.back()(x);
}

nlohmann::json ArchitectureJson(const ClassifierSpec& spec) {
  std::vector<int> widths = {spec.input_dim};
  if (spec.kind == "ffnn") widths.insert(widths.end(), spec.hidden.begin(), spec.hidden.end());
  widths.push_back(spec.num_classes);
  return {{"kind", spec.kind},
          {"layers", widths},
          {"activation", spec.kind == "ffnn" ? "relu" : "none"},
          {"dropout", spec.kind == "ffnn" ? spec.dropout : 0.0},
          {"output", "softmax"}};
}

std::vector<torch::Tensor> SnapshotParameters(Classifier& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

void RestoreParameters(Classifier& model, const std::vector<torch::Tensor>& snapshot) {
  torch::NoGradGuard no_grad;
  auto params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(snapshot[i]);
}

}  // namespace arginator::trainer
