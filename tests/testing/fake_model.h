#pragma once

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/model/model.h"

namespace arginator::testing {

// A Model without LibTorch: two output columns, p1 = sigmoid(first input value), so tests can
// tell rows apart. Records each batch size and the thread that ran it; can be held at a gate to let
// a queue build up, or made to fail.
class FakeModel : public server::Model {
 public:
  explicit FakeModel(int dim = 4, int cols = 2) : dim_(dim), cols_(cols) {}

  absl::Status Forward(RowsView input, MutableRowsView output) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      entered_cv_.notify_all();
      gate_cv_.wait(lock, [&] { return open_; });
      batch_sizes_.push_back(input.rows);
      threads_.push_back(std::this_thread::get_id());
    }
    if (fail_) return absl::InternalError("fake model failure");
    if (output.cols != cols_) {
      return server::OutputContractError(
          absl::StrCat("model outputs ", cols_, " columns per row, expected ", output.cols));
    }
    for (int64_t i = 0; i < input.rows; ++i) {
      float p = 1.f / (1.f + std::exp(-input.row(i)[0]));
      output.row(i)[1] = p;
      output.row(i)[0] = 1 - p;
      for (int j = 2; j < cols_; ++j) output.row(i)[j] = 0.f;
    }
    return absl::OkStatus();
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
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }
  void set_fail(bool fail) { fail_ = fail; }

 private:
  const int dim_, cols_;
  std::mutex mu_;
  std::condition_variable gate_cv_, entered_cv_;
  bool open_ = true;
  int entered_ = 0;
  std::vector<int64_t> batch_sizes_;
  std::vector<std::thread::id> threads_;
  std::atomic<bool> fail_{false};
};

}  // namespace arginator::testing
