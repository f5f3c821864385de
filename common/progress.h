#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace arginator {

// A one-line progress bar on stderr, drawn only when stderr is a terminal (so logs and CI stay
// clean). Redraws at most every 100 ms.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  ~ProgressBar();
  void Update(int64_t done, const std::string& suffix = "");
  void Finish();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace arginator
