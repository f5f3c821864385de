// The compute ceiling: raw TorchScript forward throughput of published models by batch size, with
// the server's thread setting. Several model directories (an fp32 version and its int8 and pruned
// versions) are measured side by side: at each batch size every model runs in turn, so a noisy
// neighbour slows them alike, and the table gives each one's speed relative to the first.
// Usage: arginator-bench-forward MODEL_DIR [MODEL_DIR...] [--threads 1] [--seconds 1.0]
//   [--device cpu] [--batches 1,2,4,...,4096] [--format text|json]
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "common/allocator.h"
#include "common/model_card.h"
#include "nlohmann/json.hpp"
#include "server/model/torchscript_model.h"

namespace {

using namespace arginator;

struct Subject {
  std::string dir;
  ModelCard card;
  std::unique_ptr<server::Model> model;
  int64_t size_bytes = 0;
  std::string kind;  // fp32, int8, pruned
};

// Samples per second of `forwards` forwards of `b` rows over about `seconds`.
absl::StatusOr<std::pair<double, double>> Measure(server::Model& model, int64_t b, int dim,
                                                  int cols, double seconds, std::mt19937& rng) {
  std::normal_distribution<float> normal(0, 0.2f);
  std::vector<float> x(b * dim);
  for (float& v : x) v = normal(rng);
  std::vector<float> probs(b * cols);
  const RowsView in(x.data(), b, dim);
  const MutableRowsView out(probs.data(), b, cols);
  for (int i = 0; i < 3; ++i) (void)model.Forward(in, out);  // warm-up
  int64_t forwards = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    if (absl::Status s = model.Forward(in, out); !s.ok()) return s;
    ++forwards;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return std::make_pair(forwards * b / elapsed, 1e6 * elapsed / forwards);
}

}  // namespace

int main(int argc, char** argv) {
  TuneAllocatorForTensors();
  CLI::App app{"arginator-bench-forward: raw TorchScript forward throughput by batch size"};
  std::vector<std::string> dirs;
  std::string device = "cpu", format = "text";
  int threads = 1;
  double seconds = 1.0;
  std::vector<int64_t> batches = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  app.add_option("model_dirs", dirs, "published version directories, the first the reference")
      ->required();
  app.add_option("--threads", threads, "LibTorch intra-op threads")->capture_default_str();
  app.add_option("--seconds", seconds, "time per batch size and model")->capture_default_str();
  app.add_option("--device", device, "cpu, cuda, cuda:N")->capture_default_str();
  app.add_option("--batches", batches, "batch sizes")->delimiter(',');
  app.add_option("--format", format, "text or json");
  CLI11_PARSE(app, argc, argv);

  const BlasInfo blas = server::SetTorchThreads(threads);
  const std::string engine = server::ConfigureQuantizedEngine();
  std::vector<Subject> subjects;
  for (const std::string& dir : dirs) {
    Subject s;
    s.dir = dir;
    auto card = ReadModelCard(dir + "/model.json");
    if (!card.ok()) return std::cerr << card.status() << "\n", 1;
    s.card = *card;
    s.kind = !QuantizedEngine(s.card).empty()                    ? "int8"
             : s.card.compression.value("method", "") == "prune" ? "pruned"
                                                                 : "fp32";
    s.size_bytes = static_cast<int64_t>(std::filesystem::file_size(dir + "/model.pt"));
    auto model = server::LoadTorchScriptModel(dir + "/model.pt", s.card.input_dim,
                                              {device, true, QuantizedEngine(s.card)});
    if (!model.ok()) return std::cerr << model.status() << "\n", 1;
    s.model = *std::move(model);
    subjects.push_back(std::move(s));
  }
  if (format == "text") {
    std::cout << absl::StrFormat("%s, %d intra-op thread(s)%s, %s\n", device, threads,
                                 blas.LogSuffix(), engine);
    for (const Subject& s : subjects) {
      std::cout << absl::StrFormat("  %s v%d (%s): %d bytes, %.2fx the first\n", s.card.name,
                                   s.card.version, s.kind, s.size_bytes,
                                   static_cast<double>(s.size_bytes) / subjects[0].size_bytes);
      if (const std::string plan = s.model->ExecutionPlan(); !plan.empty()) {
        std::cout << "    batches (chosen at load, as the server does): " << plan << "\n";
      }
    }
    std::cout << absl::StrFormat("%8s %8s %10s %14s %12s %10s\n", "batch", "version", "kind",
                                 "samples/s", "us/forward", "vs first");
  }
  std::mt19937 rng(1);
  nlohmann::json results = nlohmann::json::array();
  for (int64_t b : batches) {
    double reference = 0;
    for (Subject& s : subjects) {
      auto m = Measure(*s.model, b, s.card.input_dim, static_cast<int>(s.card.labels.size()),
                       seconds, rng);
      if (!m.ok()) return std::cerr << m.status() << "\n", 1;
      const auto [per_second, us] = *m;
      if (reference == 0) reference = per_second;
      results.push_back({{"batch", b},
                         {"samples_per_s", per_second},
                         {"us_per_forward", us},
                         {"model", s.card.name},
                         {"version", s.card.version},
                         {"kind", s.kind},
                         {"size_bytes", s.size_bytes},
                         {"vs_first", per_second / reference}});
      if (format == "text") {
        std::cout << absl::StrFormat("%8d %8d %10s %14.0f %12.1f %9.2fx\n", b, s.card.version,
                                     s.kind, per_second, us, per_second / reference);
      }
    }
  }
  if (format == "json") std::cout << results.dump(2) << "\n";
  return 0;
}
