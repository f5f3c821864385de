// arginator-bench-interpreter MODEL_DIR: what the TorchScript interpreter costs a one-row forward
// (the concurrency-1 path), against the same ATen operations called directly from C++ on the
// module's own weights (the exported one_row method: mv + bias, relu, ..., softmax). Checks that
// both give the same bits, then times each alternately, warm and with 8 MB written between calls
// (the weights evicted, as between requests at one in flight), median of 2,000 calls, 5 rounds.
// An fp32 export only (int8 modules have no wt<i>/b<i> parameters).
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

double MedianUs(std::vector<double>& seconds) {
  std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2, seconds.end());
  return seconds[seconds.size() / 2] * 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: arginator-bench-interpreter MODEL_DIR (a version directory)\n");
    return 2;
  }
  at::set_num_threads(1);
  torch::jit::Module module = torch::jit::load(std::string(argv[1]) + "/model.pt");
  module.eval();
  torch::InferenceMode guard;
  std::vector<at::Tensor> weights,
      biases;  // [in, out] contiguous, as trainer/export.cc stores them
  for (int i = 0; module.hasattr("wt" + std::to_string(i)); ++i) {
    weights.push_back(module.attr("wt" + std::to_string(i)).toTensor());
    biases.push_back(module.attr("b" + std::to_string(i)).toTensor());
  }
  if (weights.empty()) {
    std::fprintf(stderr, "%s: not an fp32 export (no wt0 parameter)\n", argv[1]);
    return 2;
  }
  // The exported one_row method's operations, in its order.
  const auto direct = [&](const at::Tensor& x) {
    at::Tensor v = x[0];
    for (size_t i = 0;; ++i) {
      at::Tensor h = at::mv(weights[i].t(), v) + biases[i];
      if (i + 1 == weights.size()) return at::softmax(h.unsqueeze(0), 1);
      v = at::relu(h);
    }
  };
  const int64_t dim = weights[0].size(0);
  const at::Tensor x = at::randn({1, dim});
  const at::Tensor scripted = module.forward({x}).toTensor();
  const bool same = at::equal(scripted, direct(x));
  std::printf("%zu layers, input %lld; same bits: %s\n", weights.size(),
              static_cast<long long>(dim), same ? "yes" : "NO");
  std::vector<char> evict(8 << 20);
  std::printf("%5s %22s %22s %22s %22s\n", "round", "TorchScript warm us", "ATen direct warm us",
              "TorchScript cold us", "ATen direct cold us");
  for (int round = 1; round <= 5; ++round) {
    double median[4];
    for (int mode = 0; mode < 4; ++mode) {
      const bool scripted_path = mode % 2 == 0, cold = mode >= 2;
      std::vector<double> seconds;
      for (int i = 0; i < 2000; ++i) {
        if (cold) {
          for (size_t k = 0; k < evict.size(); k += 64) ++evict[k];
        }
        const auto start = std::chrono::steady_clock::now();
        const at::Tensor out = scripted_path ? module.forward({x}).toTensor() : direct(x);
        seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      median[mode] = MedianUs(seconds);
    }
    std::printf("%5d %22.1f %22.1f %22.1f %22.1f\n", round, median[0], median[1], median[2],
                median[3]);
  }
  return same ? 0 : 1;
}
