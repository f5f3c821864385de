#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/matrix_view.h"
#include "common/mutex.h"
#include "server/model/model.h"

namespace arginator::server {

// The config's batching section (configs/server.yaml has the defaults and what they do; tests
// start from DefaultServerConfig().batching).
struct BatcherOptions {
  int max_batch_size = 0;  // rows per forward; larger requests are split across batches
  // How long the first queued row may wait for others to fill a batch. 0 = run what is there:
  // rows that arrive while a forward runs still form the next batch together.
  absl::Duration max_queue_delay;
  int64_t max_queue_rows = 0;  // bounded queue: Enqueue beyond it is RESOURCE_EXHAUSTED
  bool enabled = false;        // false: one request per forward (still split at max size)
  // Without a queue delay: times the executor yields its core before taking each batch while the
  // batch is not full, so threads holding requests already received can add them first. Helps
  // when the cores are oversubscribed, costs a little when they are not (docs/benchmarks.md).
  int executor_yields = 0;
  // Without a queue delay: the most rows a forward may have to run on the thread that enqueued;
  // a larger batch (a bulk request) is handed to the batcher's worker thread, so a long forward
  // does not hold a gRPC thread.
  int64_t inline_max_rows = 0;
};

// Observes the batcher for metrics; called on the thread that runs the forward. Default: nothing.
class BatcherObserver {
 public:
  virtual ~BatcherObserver() = default;
  virtual void OnBatch(int64_t rows, absl::Duration forward_time) {}
  virtual void OnQueueWait(absl::Duration wait) {}
  virtual void OnQueueDepth(int64_t rows) {}
};

// The DEADLINE_EXCEEDED message of a task whose deadline passed before its forward ran (the
// batcher checks every task's deadline before taking it into a batch, the first included).
inline constexpr char kDeadlinePassed[] =
    "the request's deadline passed before its forward ran; not computed";

// Figures computed per row over a whole batch after its forward, one call per batch (the
// version's density score: its projections read their basis once for several rows). Must give
// each row the same value whatever rows share its batch; runs on the executor's thread.
using RowScorer = std::function<void(RowsView rows, double* scores)>;

// Runs a RowScorer on a thread of its own, beside the forward of the same rows: for large batches
// the scores (a third of the forward's time for the default density model) then cost no time on
// the executor, whose forward bounds a bulk job. One job at a time, from one thread at a time
// (the batcher's executor); the thread starts with the first job. Thread-safe otherwise.
class ScoringThread {
 public:
  explicit ScoringThread(RowScorer scorer) : scorer_(std::move(scorer)) {}
  ~ScoringThread();  // waits for a running job, then ends the thread

  // Starts scoring `rows` into `scores` (both alive until Wait returns).
  void Start(RowsView rows, double* scores);
  // Returns once the job Start began is done.
  void Wait();

 private:
  void Run();

  const RowScorer scorer_;
  Mutex mu_;
  CondVar cv_;
  RowsView rows_ ABSL_GUARDED_BY(mu_);
  double* scores_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;  // a job is started and not yet done
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started by the first Start (the executor only)
};

// One request's rows, owned by the caller (no allocation per request in the batcher): the caller
// fills `inputs`, `outputs` (a buffer of inputs.rows rows, one column per model output) and
// `deadline`, and keeps the task and both buffers alive until Computed is called, exactly once:
// with OK once every row's probabilities are in `outputs`, or with the error. Computed runs on the
// thread that ran the last forward (possibly the caller's own, inside Enqueue) and must not block.
class InferenceTask {
 public:
  virtual ~InferenceTask() = default;
  virtual void Computed(const absl::Status& status) = 0;

  RowsView inputs;
  MutableRowsView outputs;
  absl::Time deadline = absl::InfiniteFuture();
  // With a RowScorer: inputs.rows doubles that receive each row's score before Computed(OK)
  // (null: the task does not want them).
  double* row_scores = nullptr;

 private:
  friend class DynamicBatcher;
  // The batcher's bookkeeping, reset by Enqueue.
  InferenceTask* next_ = nullptr;  // intrusive queue link (under the batcher's mutex)
  absl::Time enqueued_;
  int64_t next_row_ = 0;   // rows before this are taken into a batch (under the mutex)
  int64_t rows_done_ = 0;  // rows computed (executor only)
};

// Triton-style dynamic batcher in front of one model version: a bounded FIFO of tasks, batches of
// up to max_batch_size rows, tasks past their deadline dropped before compute
// (DEADLINE_EXCEEDED), large tasks split across batches in row order.
//
// Who runs the forward: with max_queue_delay 0 (the default), small batches never wait for a
// thread hand-off. A caller that enqueues onto an idle batcher becomes the executor and runs the
// forward on its own thread; tasks enqueued while a forward runs just queue, and the executor
// takes them all as its next batch when the forward returns, until the queue is empty (flat
// combining); before each batch it may yield its core executor_yields times so that requests
// other threads have already received can join. Triton and TF Serving always hand off to a
// scheduler thread. Only when more than inline_max_rows rows are queued (bulk requests) does the
// executor hand its role to the batcher's worker thread: a long forward must not hold a gRPC
// thread, and next to it the hand-off costs nothing. With a positive max_queue_delay a batcher
// thread waits for batches to fill and runs them all.
// Thread-safe. Callers must not hold locks that a Computed takes.
class DynamicBatcher {
 public:
  // `yield` gives up the core (sched_yield; tests inject their own). `clock` times deadlines, the
  // queue delay and the metrics (tests pass a FakeClock). `row_scorer` (may be null) runs over
  // each batch's rows after a successful forward.
  DynamicBatcher(std::shared_ptr<Model> model, BatcherOptions options,
                 std::shared_ptr<BatcherObserver> observer = nullptr,
                 std::function<void()> yield = nullptr, const Clock& clock = Clock::Real(),
                 RowScorer row_scorer = nullptr);
  ~DynamicBatcher();  // Stop()

  // Queues `task` and, if no forward is running, runs forwards on this thread until the queue is
  // empty (task->Computed may have been called when this returns). On error (full:
  // RESOURCE_EXHAUSTED; stopped: UNAVAILABLE; bad shape: INVALID_ARGUMENT) Computed is not called.
  absl::Status Enqueue(InferenceTask* task);

  // Finishes every queued task, refuses new ones, waits for the running forward. Idempotent.
  // Not from a Computed or any other code running on the batcher's own executor or worker: it would
  // wait for itself (the registry destroys versions on its own thread).
  void Stop();

  int64_t queued_rows() const;

  // From this many rows a batch's row scores are computed beside its forward, on the scoring
  // thread (a 1,024-row forward takes ~7 ms here, a thread's wake-up tens of microseconds; at
  // 64 rows and below the executor scores them itself after the forward).
  static constexpr int64_t kScoreAsideRows = 256;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Slice {
    InferenceTask* task;
    int64_t first_row, rows;
  };

  // Executor loop: batches until the queue is empty, then releases the executor role; off the
  // worker, it hands the role to the worker once more than inline_max_rows rows are queued.
  // Entered with the lock held and executing_ set on this thread's behalf; releases it around
  // each forward and returns with it held.
  void RunBatches(bool on_worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunThread();  // the batcher thread with max_queue_delay > 0
  void RunWorker();  // the worker for large batches with max_queue_delay 0
  // Takes up to max_batch_size rows into batch_; tasks past their deadline go to expired_.
  void TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes expired_ and runs batch_. Called by the executor without the lock.
  void ExecuteTaken();

  const std::shared_ptr<Model> model_;
  const BatcherOptions options_;
  const std::shared_ptr<BatcherObserver> observer_;
  const int dim_;
  const bool own_thread_;  // max_queue_delay > 0
  const std::function<void()> yield_;
  const Clock& clock_;
  const RowScorer row_scorer_;

  mutable Mutex mu_;
  CondVar cv_;  // work queued (delay thread) / executor released (Stop)
  InferenceTask* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  InferenceTask* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  int64_t queued_rows_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool executing_ ABSL_GUARDED_BY(mu_) = false;   // a thread holds the executor role
  bool handoff_ ABSL_GUARDED_BY(mu_) = false;     // the role is passed to the worker
  CondVar worker_cv_;                             // handoff_ or stopping_
  int64_t output_cols_ ABSL_GUARDED_BY(mu_) = 0;  // every task's, set by the first accepted

  // The executor's scratch, reused from batch to batch (only the executor touches them).
  std::vector<Slice> batch_;
  std::vector<InferenceTask*> expired_;
  std::vector<float> batch_inputs_, batch_outputs_;
  std::vector<double> batch_scores_;
  // Batches of at least kScoreAsideRows rows are scored here while their forward runs.
  ScoringThread scoring_thread_;
  std::thread thread_;
};

}  // namespace arginator::server
