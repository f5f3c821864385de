#pragma once

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/model.h"

namespace arginator::testing {

// A Model without LibTorch: two output columns, p1 = sigmoid(first input value), so tests can
// tell rows apart. Records each batch size; can be held at a gate to let a queue build up, or made
// to fail.
class FakeModel : public server::Model {
 public:
  explicit FakeModel(int dim = 4, int cols = 2) : dim_(dim), cols_(cols) {}

  absl::StatusOr<server::Matrix> Forward(const float* rows, int64_t n) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      entered_cv_.notify_all();
      gate_cv_.wait(lock, [&] { return open_; });
      batch_sizes_.push_back(n);
    }
    if (fail_) return absl::InternalError("fake model failure");
    server::Matrix m{n, cols_, std::vector<float>(n * cols_, 0.f)};
    for (int64_t i = 0; i < n; ++i) {
      float p = 1.f / (1.f + std::exp(-rows[i * dim_]));
      m.values[i * cols_ + 1] = p;
      m.values[i * cols_] = 1 - p;
    }
    return m;
  }
  int input_dim() const override { return dim_; }

  void CloseGate() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void OpenGate() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    gate_cv_.notify_all();
  }
  // Blocks until Forward has been entered `count` times in total.
  void WaitEntered(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_ >= count; });
  }
  std::vector<int64_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }
  void set_fail(bool fail) { fail_ = fail; }

 private:
  const int dim_, cols_;
  std::mutex mu_;
  std::condition_variable gate_cv_, entered_cv_;
  bool open_ = true;
  int entered_ = 0;
  std::vector<int64_t> batch_sizes_;
  std::atomic<bool> fail_{false};
};

}  // namespace arginator::testing
