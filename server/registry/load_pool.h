#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"

namespace arginator::server {

// The threads model versions load on (TF Serving's load thread pool): a load (hashing a model
// file, TorchScript, golden examples, warm-up) can take minutes, and on a pool of its own it
// blocks neither the repository watcher's polls nor ModelAdmin calls nor other models' loads.
// With 0 threads, Submit runs the task on the caller's thread (the registry's unit tests).
class LoadPool {
 public:
  explicit LoadPool(int threads);
  // Runs the tasks already submitted, then joins the threads.
  ~LoadPool();

  void Submit(std::function<void()> task);

 private:
  void Run();

  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace arginator::server
