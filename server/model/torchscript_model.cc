#include "server/model/torchscript_model.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/mutex.h"
#include "common/quantized_engines.h"

namespace arginator::server {
namespace {

// The first line of a torch exception's message: c10 appends a multi-line C++ backtrace, which
// belongs in neither a status message nor ListModels' reason for a failed version.
std::string FirstLine(const char* what) {
  std::string_view message(what);
  return std::string(message.substr(0, message.find('\n')));
}

class TorchScriptModel : public Model {
 public:
  TorchScriptModel(torch::jit::Module module, torch::Device device, int input_dim, std::string plan)
      : module_(std::move(module)),
        device_(device),
        input_dim_(input_dim),
        plan_(std::move(plan)) {}

  int input_dim() const override { return input_dim_; }
  std::string ExecutionPlan() const override { return plan_; }

  absl::Status Forward(RowsView rows, MutableRowsView output) override {
    const int64_t n = rows.rows;
    try {
      torch::InferenceMode guard;
      torch::Tensor input;
      if (device_.is_cuda()) {
        if (!pinned_.defined() || pinned_.size(0) < n) {
          pinned_ = torch::empty({std::max<int64_t>(n, 64), input_dim_},
                                 torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
        }
        std::memcpy(pinned_.data_ptr<float>(), rows.data, sizeof(float) * rows.size());
        input = pinned_.narrow(0, 0, n).to(device_, /*non_blocking=*/true);
      } else {
        input = torch::from_blob(const_cast<float*>(rows.data), {n, input_dim_}, torch::kFloat32);
      }
      torch::Tensor out = module_.forward({input}).toTensor();
      if (out.dim() != 2 || out.size(0) != n) {
        return OutputContractError(absl::StrCat("model returned a ", out.dim(), "-d tensor for ", n,
                                                " rows, expected [", n, ", ", output.cols, "]"));
      }
      if (out.size(1) != output.cols) {
        return OutputContractError(absl::StrCat("model outputs ", out.size(1),
                                                " columns per row, expected ", output.cols));
      }
      // Straight into the caller's buffer: one copy, no allocation of ours.
      torch::from_blob(output.data, {n, output.cols}, torch::kFloat32).copy_(out);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("TorchScript forward failed: ", FirstLine(e.what())));
    }
  }

 private:
  torch::jit::Module module_;
  torch::Device device_;
  int input_dim_;
  std::string plan_;
  torch::Tensor pinned_;  // CUDA only: reused pinned staging buffer
};

// Best of `repeats` timed forwards of `rows` random rows (after two untimed), in seconds.
double TimeForward(torch::jit::Module& module, int64_t rows, int input_dim, int repeats = 7) {
  torch::Tensor x = torch::randn({rows, input_dim}) * 0.2;
  for (int i = 0; i < 2; ++i) module.forward({x});
  double best = 1e9;
  for (int i = 0; i < repeats; ++i) {
    const absl::Time start = absl::Now();
    module.forward({x});
    best = std::min(best, absl::ToDoubleSeconds(absl::Now() - start));
  }
  return best;
}

// Modules exported before `row_plan` have one threshold: chunks of `row_chunk` rows up to
// `chunked_max_rows`. Returns the rows chosen, or -1 for a module without the attributes (not
// exported by arginator-train), which is left alone.
int64_t TuneSmallBatchPath(torch::jit::Module& module, int input_dim) {
  if (!module.hasattr("chunked_max_rows") || !module.hasattr("row_chunk")) return -1;
  torch::InferenceMode guard;
  // The threshold that saves the most time summed over the sizes up to it: one noisy timing
  // cannot end the search early, and sizes where both paths are equal decide nothing.
  int64_t chosen = 1;
  double saved = 0, best_saved = 0;
  for (int64_t rows : {2, 3, 4, 6, 8, 12, 16, 24}) {
    module.setattr("chunked_max_rows", rows);
    const double chunked = TimeForward(module, rows, input_dim);
    module.setattr("chunked_max_rows", rows - 1);
    const double whole = TimeForward(module, rows, input_dim);
    saved += whole - chunked;
    if (saved > best_saved) {
      best_saved = saved;
      chosen = rows;
    }
  }
  module.setattr("chunked_max_rows", chosen);
  return chosen;
}

// A module exported with `row_plan` (trainer/export.cc): for each batch size from 1 row up, time
// its paths (one GEMM; rows one by one through GEMV; first-layer chunks of 2 or 4 rows) on this
// machine and keep the fastest; another path must be 3% faster than one GEMM to replace it (fewer
// calls). Stops once one GEMM has won kGemmStreak sizes in a row past 8 rows (or at
// kPlanMaxRows); larger batches are one GEMM. The plan depends on the layers' shapes and the CPU,
// not on the weights, so it is measured once per shape in a process: the next version of the same
// architecture (a hot swap) reuses it, and only the first load pays (~30-60 ms here).
constexpr int64_t kPlanMaxRows = 32;
constexpr int kGemmStreak = 3;

std::vector<int64_t> MeasureRowPlan(torch::jit::Module& module, int input_dim) {
  std::vector<int64_t> plan = {0};  // row 0: unused
  int gemm_streak = 0;
  for (int64_t n = 1; n <= kPlanMaxRows && !(n > 8 && gemm_streak >= kGemmStreak); ++n) {
    double gemm = 0, best = 0;
    int64_t chosen = n;
    for (int64_t chunk : {n, int64_t{0}, int64_t{2}, int64_t{4}}) {
      if (chunk != n && chunk >= n) continue;
      std::vector<int64_t> trial = plan;
      trial.push_back(chunk);
      module.setattr("row_plan", c10::List<int64_t>(trial));
      const double t = TimeForward(module, n, input_dim, 3);
      if (chunk == n) {
        gemm = best = t;
      } else if (t < best && t < 0.97 * gemm) {
        best = t;
        chosen = chunk;
      }
    }
    plan.push_back(chosen);
    gemm_streak = chosen == n ? gemm_streak + 1 : 0;
  }
  // Sizes past the plan take one GEMM (from 2 rows) anyway.
  while (plan.size() > 2 && plan.back() == static_cast<int64_t>(plan.size()) - 1) plan.pop_back();
  return plan;
}

// "1 row: one GEMM; 2-7: first layer in chunks of 2; 8+: one GEMM"
std::string DescribeRowPlan(const std::vector<int64_t>& plan) {
  const auto path = [](int64_t chunk, int64_t n) {
    return chunk == 0  ? std::string("one by one (GEMV)")
           : chunk < n ? absl::StrCat("first layer in chunks of ", chunk)
                       : std::string("one GEMM");
  };
  std::vector<std::string> parts;
  for (size_t n = 1; n < plan.size();) {
    size_t end = n;
    while (end + 1 < plan.size() && path(plan[end + 1], end + 1) == path(plan[n], n)) ++end;
    parts.push_back(absl::StrCat(n, end > n ? absl::StrCat("-", end) : "",
                                 n == 1 ? (end > 1 ? " rows" : " row") : "", ": ",
                                 path(plan[n], n)));
    n = end + 1;
  }
  parts.push_back(absl::StrCat(plan.size(), "+: one GEMM"));
  return absl::StrJoin(parts, "; ");
}

Mutex plans_mu;
std::map<std::string, std::vector<int64_t>>& MeasuredPlans()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(plans_mu) {
  static auto* plans = new std::map<std::string, std::vector<int64_t>>;
  return *plans;
}

// Sets the module's `row_plan` (measured, or this process's plan for the same shapes) and returns
// it as text; empty for a module without `row_plan` (left alone).
std::string TuneRowPlan(torch::jit::Module& module, int input_dim) {
  if (!module.hasattr("row_plan")) return "";
  torch::InferenceMode guard;
  std::string shapes = absl::StrCat(input_dim);
  for (const auto& parameter : module.named_parameters(/*recurse=*/false)) {
    absl::StrAppend(&shapes, " ", parameter.name, ":", absl::StrJoin(parameter.value.sizes(), "x"));
  }
  std::vector<int64_t> plan;
  {
    MutexLock lock(&plans_mu);
    if (auto it = MeasuredPlans().find(shapes); it != MeasuredPlans().end()) plan = it->second;
  }
  if (plan.empty()) {
    plan = MeasureRowPlan(module, input_dim);
    MutexLock lock(&plans_mu);
    MeasuredPlans().emplace(shapes, plan);
  }
  module.setattr("row_plan", c10::List<int64_t>(plan));
  return DescribeRowPlan(plan);
}

// Loads go one at a time through the engine switch: an int8 module's packed weights are
// repacked for the current engine while it loads (and keep it after).
Mutex engine_mu;

}  // namespace

std::string ConfigureQuantizedEngine() {
  const std::vector<std::string> names = QuantizedEngineNames();
  if (names.empty()) return "no quantized engine (int8 models cannot load)";
  const std::string chosen =
      std::find(names.begin(), names.end(), "onednn") != names.end() ? "onednn" : names.front();
  (void)SetQuantizedEngine(chosen);  // one of the build's own
  return absl::StrCat("quantized engine ", chosen, " (this build: ", absl::StrJoin(names, ", "),
                      ")");
}

absl::Status CheckTorchDevice(const std::string& device) {
  try {
    torch::Device d(device);
    if (d.is_cuda()) {
      if (!torch::cuda::is_available()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "device '", device, "' requested but CUDA is not available in this build"));
      }
      if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "device '", device, "': only ", torch::cuda::device_count(), " CUDA device(s)"));
      }
    } else if (!d.is_cpu()) {
      return absl::InvalidArgumentError(absl::StrCat("device '", device, "' is not cpu or cuda"));
    }
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", device, "' is not a device (cpu, cuda, cuda:N)"));
  }
  return absl::OkStatus();
}

BlasInfo SetTorchThreads(int intra_op_threads) {
  if (intra_op_threads > 0) torch::set_num_threads(intra_op_threads);
  return SetBlasThreads(intra_op_threads);
}

absl::StatusOr<std::unique_ptr<Model>> LoadTorchScriptModel(const std::string& path, int input_dim,
                                                            const TorchScriptOptions& options) {
  if (absl::Status s = CheckTorchDevice(options.device); !s.ok()) return s;
  try {
    torch::Device device(options.device);
    torch::jit::Module module;
    if (options.quantized_engine.empty()) {
      module = torch::jit::load(path, device);
    } else {
      if (!device.is_cpu()) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": an int8 model (quantized engine ", options.quantized_engine,
                         ") runs on the CPU only; this server's device is ", options.device));
      }
      MutexLock lock(&engine_mu);
      absl::StatusOr<std::string> previous = SetQuantizedEngine(options.quantized_engine);
      if (!previous.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": an int8 model: ", previous.status().message()));
      }
      try {
        module = torch::jit::load(path, device);
      } catch (...) {
        (void)SetQuantizedEngine(*previous);
        throw;
      }
      (void)SetQuantizedEngine(*previous);
    }
    module.eval();
    std::string plan;
    if (device.is_cpu() && options.tune_small_batches) {
      plan = TuneRowPlan(module, input_dim);
      if (plan.empty()) {
        const int64_t chunked = TuneSmallBatchPath(module, input_dim);
        if (chunked > 0) plan = absl::StrCat("2-", chunked, " rows: first layer in chunks of 2");
      }
    }
    return std::unique_ptr<Model>(
        new TorchScriptModel(std::move(module), device, input_dim, std::move(plan)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a loadable TorchScript file: ", FirstLine(e.what())));
  }
}

}  // namespace arginator::server
