// The compute ceiling: raw TorchScript forward throughput of a published model by batch size,
// with the server's thread setting. Usage: arginator-bench-forward MODEL_DIR [--threads 1]
//   [--seconds 1.0] [--device cpu] [--batches 1,2,4,...,4096] [--format text|json]
#include <chrono>
#include <iostream>
#include <random>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "common/allocator.h"
#include "common/model_card.h"
#include "nlohmann/json.hpp"
#include "server/model/torchscript_model.h"

int main(int argc, char** argv) {
  using namespace arginator;
  TuneAllocatorForTensors();
  CLI::App app{"arginator-bench-forward: raw TorchScript forward throughput by batch size"};
  std::string dir, device = "cpu", format = "text";
  int threads = 1;
  double seconds = 1.0;
  std::vector<int64_t> batches = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  app.add_option("model_dir", dir, "published version directory")->required();
  app.add_option("--threads", threads, "LibTorch intra-op threads")->capture_default_str();
  app.add_option("--seconds", seconds, "time per batch size")->capture_default_str();
  app.add_option("--device", device, "cpu, cuda, cuda:N")->capture_default_str();
  app.add_option("--batches", batches, "batch sizes")->delimiter(',');
  app.add_option("--format", format, "text or json");
  CLI11_PARSE(app, argc, argv);

  auto card = ReadModelCard(dir + "/model.json");
  if (!card.ok()) return std::cerr << card.status() << "\n", 1;
  const BlasInfo blas = server::SetTorchThreads(threads);
  auto model = server::LoadTorchScriptModel(dir + "/model.pt", card->input_dim, {device});
  if (!model.ok()) return std::cerr << model.status() << "\n", 1;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 0.2f);
  nlohmann::json results = nlohmann::json::array();
  if (format == "text") {
    std::cout << absl::StrFormat("%s v%d, %s, %d intra-op thread(s)%s\n%8s %14s %12s\n", card->name,
                                 card->version, device, threads, blas.LogSuffix(), "batch",
                                 "samples/s", "us/forward");
  }
  for (int64_t b : batches) {
    std::vector<float> x(b * card->input_dim);
    for (float& v : x) v = normal(rng);
    std::vector<float> probs(b * card->labels.size());
    const RowsView in(x.data(), b, card->input_dim);
    const MutableRowsView out(probs.data(), b, static_cast<int64_t>(card->labels.size()));
    for (int i = 0; i < 3; ++i) (void)(*model)->Forward(in, out);  // warm-up
    int64_t forwards = 0;
    auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
      if (absl::Status s = (*model)->Forward(in, out); !s.ok()) return std::cerr << s << "\n", 1;
      ++forwards;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    const double per_second = forwards * b / elapsed;
    results.push_back({{"batch", b},
                       {"samples_per_s", per_second},
                       {"us_per_forward", 1e6 * elapsed / forwards}});
    if (format == "text") {
      std::cout << absl::StrFormat("%8d %14.0f %12.1f\n", b, per_second, 1e6 * elapsed / forwards);
    }
  }
  if (format == "json") std::cout << results.dump(2) << "\n";
  return 0;
}
