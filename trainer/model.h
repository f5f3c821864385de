#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace arginator::trainer {

struct ClassifierSpec {
  std::string kind = "ffnn";  // "ffnn": Linear-ReLU-Dropout blocks then Linear; "logreg": Linear
  int input_dim = 1024;
  std::vector<int> hidden = {256, 128};
  double dropout = 0.2;
  int num_classes = 2;
};

// The trainable classifier. forward() returns logits; the exported TorchScript adds the softmax.
class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(const ClassifierSpec& spec);

  torch::Tensor forward(torch::Tensor x);

  const ClassifierSpec& spec() const { return spec_; }
  // Linear layers in order; the last one produces the logits.
  const std::vector<torch::nn::Linear>& layers() const { return layers_; }

 private:
  ClassifierSpec spec_;
  std::vector<torch::nn::Linear> layers_;
  torch::nn::Dropout dropout_;
};
TORCH_MODULE(Classifier);

nlohmann::json ArchitectureJson(const ClassifierSpec& spec);

// A deep copy of the parameters, for keeping the best epoch.
std::vector<torch::Tensor> SnapshotParameters(Classifier& model);
void RestoreParameters(Classifier& model, const std::vector<torch::Tensor>& snapshot);

}  // namespace arginator::trainer
