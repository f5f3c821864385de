#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/model/model.h"

namespace arginator::server {

struct BatcherOptions {
  int max_batch_size = 64;  // rows per forward; larger requests are split across batches
  // How long the first queued row may wait for others to fill a batch. 0 = run what is there:
  // rows that arrive while a forward runs still form the next batch together.
  absl::Duration max_queue_delay = absl::ZeroDuration();
  int64_t max_queue_rows = 65536;  // bounded queue: Enqueue beyond it is RESOURCE_EXHAUSTED
  bool batching = true;            // false: one request per forward (still split at max size)
};

// Observes the batcher for metrics; called on the batcher thread. Default: nothing.
class BatcherObserver {
 public:
  virtual ~BatcherObserver() = default;
  virtual void OnBatch(int64_t rows, absl::Duration forward_time) {}
  virtual void OnQueueWait(absl::Duration wait) {}
  virtual void OnQueueDepth(int64_t rows) {}
};

// One request's rows: owned inputs, a deadline, and a completion called exactly once with
// [n, classes] probabilities in row order, or an error.
struct InferenceTask {
  std::vector<float> inputs;  // n * input_dim
  int64_t n = 0;
  absl::Time deadline = absl::InfiniteFuture();
  std::function<void(absl::StatusOr<Matrix>)> done;
};

// Triton-style dynamic batcher in front of one model version: a bounded queue of tasks and a
// thread that forms batches of up to max_batch_size rows, waiting at most max_queue_delay for the
// first row's batch to fill, drops tasks past their deadline before computing
// (DEADLINE_EXCEEDED), and splits large tasks across batches keeping row order.
// Thread-safe. Completions run on the batcher thread and must not block.
class DynamicBatcher {
 public:
  DynamicBatcher(std::shared_ptr<Model> model, BatcherOptions options,
                 std::shared_ptr<BatcherObserver> observer = nullptr);
  ~DynamicBatcher();  // Stop()

  // Queues a task; on error (full: RESOURCE_EXHAUSTED; stopped: UNAVAILABLE; bad size:
  // INVALID_ARGUMENT) `done` is not called and the task is returned to nobody.
  absl::Status Enqueue(std::unique_ptr<InferenceTask> task);

  // Finishes every queued task, then joins the thread. Idempotent.
  void Stop();

  int64_t queued_rows() const;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Pending {
    std::unique_ptr<InferenceTask> task;
    absl::Time enqueued;
    int64_t next_row = 0;   // rows before this have been taken into a batch (under mu_)
    int64_t rows_done = 0;  // rows computed (batcher thread only)
    Matrix output;          // filled as batches complete (batcher thread only)
    bool failed = false;    // done() was called with an error (batcher thread only)
  };
  struct Slice {
    std::shared_ptr<Pending> pending;
    int64_t first_row, rows;
  };

  void Run();
  // Takes up to max_batch_size rows off the queue; tasks past their deadline go to `expired`.
  std::vector<Slice> TakeBatch(std::vector<std::shared_ptr<Pending>>& expired)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Execute(const std::vector<Slice>& batch);

  const std::shared_ptr<Model> model_;
  const BatcherOptions options_;
  const std::shared_ptr<BatcherObserver> observer_;
  const int dim_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_rows_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<float> batch_inputs_;  // batcher thread only
  std::thread thread_;
};

}  // namespace arginator::server
