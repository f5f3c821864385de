#include "server/batching/dynamic_batcher.h"

#include <sched.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace arginator::server {

DynamicBatcher::DynamicBatcher(std::shared_ptr<Model> model, BatcherOptions options,
                               std::shared_ptr<BatcherObserver> observer,
                               std::function<void()> yield, const Clock& clock,
                               RowScorer row_scorer)
    : model_(std::move(model)),
      options_(options),
      observer_(observer ? std::move(observer) : std::make_shared<BatcherObserver>()),
      dim_(model_->input_dim()),
      own_thread_(options_.enabled && options_.max_queue_delay > absl::ZeroDuration()),
      yield_(yield ? std::move(yield) : [] { sched_yield(); }),
      clock_(clock),
      row_scorer_(std::move(row_scorer)),
      scoring_thread_(row_scorer_) {
  batch_.reserve(static_cast<size_t>(options_.max_batch_size));
  thread_ = std::thread([this] { own_thread_ ? RunThread() : RunWorker(); });
}

DynamicBatcher::~DynamicBatcher() { Stop(); }

absl::Status DynamicBatcher::Enqueue(InferenceTask* task) {
  const int64_t n = task->inputs.rows;
  if (n <= 0 || task->inputs.cols != dim_ || task->inputs.data == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("task has ", n, " rows of ", task->inputs.cols,
                                                   " floats; the model takes rows of ", dim_));
  }
  if (task->outputs.rows != n || task->outputs.cols <= 0 || task->outputs.data == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("task's output buffer has ", task->outputs.rows, " rows for ", n, " inputs"));
  }
  if (n > options_.max_queue_rows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request of ", n, " embeddings exceeds the queue capacity of ", options_.max_queue_rows));
  }
  task->next_ = nullptr;
  task->enqueued_ = clock_.Now();
  task->next_row_ = 0;
  task->rows_done_ = 0;
  MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("model version is unloading");
  if (output_cols_ != 0 && task->outputs.cols != output_cols_) {
    return absl::InvalidArgumentError(absl::StrCat("task's output buffer has ", task->outputs.cols,
                                                   " columns; this model's tasks have ",
                                                   output_cols_));
  }
  if (queued_rows_ + n > options_.max_queue_rows) {
    return absl::ResourceExhaustedError(absl::StrCat("queue full: ", queued_rows_,
                                                     " embeddings waiting (max ",
                                                     options_.max_queue_rows, "); retry later"));
  }
  output_cols_ = task->outputs.cols;  // the first accepted task's width is every task's
  (tail_ ? tail_->next_ : head_) = task;
  tail_ = task;
  queued_rows_ += n;
  observer_->OnQueueDepth(queued_rows_);
  if (own_thread_) {
    lock.Unlock();
    cv_.Signal();
  } else if (!executing_) {
    executing_ = true;  // idle: this thread runs the forwards
    RunBatches(/*on_worker=*/false);
  }
  return absl::OkStatus();
}

void DynamicBatcher::RunBatches(bool on_worker) {
  for (;;) {
    if (!on_worker && queued_rows_ > options_.inline_max_rows) {
      // A forward this large would hold the caller's gRPC thread (and the connection reads it
      // serves) for long enough to matter, while a hand-off costs nothing next to it.
      handoff_ = true;
      worker_cv_.Signal();
      return;  // the worker now holds the executor role
    }
    // Under load, threads that already hold received requests are runnable: yielding the core to
    // them first lets their rows into this batch (larger batches, less CPU per row). With nothing
    // else runnable a yield returns at once, so an idle model's latency barely moves.
    for (int i = 0;
         i < options_.executor_yields && queued_rows_ > 0 && queued_rows_ < options_.max_batch_size;
         ++i) {
      mu_.Unlock();
      yield_();
      mu_.Lock();
    }
    TakeBatch();
    if (batch_.empty() && expired_.empty()) break;  // the queue is empty
    mu_.Unlock();
    ExecuteTaken();
    mu_.Lock();
  }
  executing_ = false;
  if (stopping_) cv_.SignalAll();
}

void DynamicBatcher::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  if (!own_thread_) {
    // The queue is empty whenever no executor runs: wait for the running one, on any thread.
    while (executing_) cv_.Wait(&mu_);
  }
  lock.Unlock();
  cv_.SignalAll();
  worker_cv_.SignalAll();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void DynamicBatcher::RunWorker() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!handoff_ && !(stopping_ && !executing_)) worker_cv_.Wait(&mu_);
    if (!handoff_) return;  // stopping, and no executor left to wait for
    handoff_ = false;
    RunBatches(/*on_worker=*/true);
  }
}

int64_t DynamicBatcher::queued_rows() const {
  MutexLock lock(&mu_);
  return queued_rows_;
}

void DynamicBatcher::TakeBatch() {
  batch_.clear();
  expired_.clear();
  int64_t rows = 0;
  const absl::Time now = clock_.Now();
  while (head_ != nullptr && rows < options_.max_batch_size) {
    InferenceTask* t = head_;
    const int64_t remaining = t->inputs.rows - t->next_row_;
    if (t->next_row_ == 0 && t->deadline < now) {
      // Not started and already too late: dropped before spending compute on it.
      head_ = t->next_;
      queued_rows_ -= remaining;
      expired_.push_back(t);
      continue;
    }
    if (!options_.enabled && !batch_.empty()) break;
    const int64_t take = std::min(remaining, options_.max_batch_size - rows);
    batch_.push_back({t, t->next_row_, take});
    t->next_row_ += take;
    rows += take;
    queued_rows_ -= take;
    if (t->next_row_ == t->inputs.rows) head_ = t->next_;
    if (!options_.enabled) break;
  }
  if (head_ == nullptr) tail_ = nullptr;
  observer_->OnQueueDepth(queued_rows_);
}

void DynamicBatcher::RunThread() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && head_ == nullptr) cv_.Wait(&mu_);
    if (head_ == nullptr) return;  // stopping and drained
    const absl::Time flush_at = head_->enqueued_ + options_.max_queue_delay;
    for (absl::Time now = clock_.Now();
         !stopping_ && queued_rows_ < options_.max_batch_size && now < flush_at;
         now = clock_.Now()) {
      cv_.WaitFor(&mu_, absl::ToChronoNanoseconds(flush_at - now));
    }
    TakeBatch();
    lock.Unlock();
    ExecuteTaken();
    lock.Lock();
  }
}

void DynamicBatcher::ExecuteTaken() {
  const absl::Time now = clock_.Now();
  for (InferenceTask* t : expired_) {
    t->Computed(absl::DeadlineExceededError(kDeadlinePassed));
  }
  if (batch_.empty()) return;
  int64_t rows = 0;
  for (const Slice& s : batch_) {
    rows += s.rows;
    if (s.first_row == 0) observer_->OnQueueWait(now - s.task->enqueued_);
  }
  const int64_t cols = batch_[0].task->outputs.cols;
  const bool single = batch_.size() == 1;
  RowsView in;
  MutableRowsView out;
  if (single) {  // one task's rows are contiguous already: no gather, no scatter
    in = batch_[0].task->inputs.Slice(batch_[0].first_row, rows);
    out = batch_[0].task->outputs.Slice(batch_[0].first_row, rows);
  } else {
    batch_inputs_.resize(static_cast<size_t>(rows) * dim_);  // grows once, then reused
    batch_outputs_.resize(static_cast<size_t>(rows) * cols);
    float* dst = batch_inputs_.data();
    for (const Slice& s : batch_) {
      std::memcpy(dst, s.task->inputs.row(s.first_row), sizeof(float) * s.rows * dim_);
      dst += s.rows * dim_;
    }
    in = RowsView(batch_inputs_.data(), rows, dim_);
    out = MutableRowsView(batch_outputs_.data(), rows, cols);
  }
  const bool scoring = row_scorer_ != nullptr;
  const bool score_aside = scoring && rows >= kScoreAsideRows;
  if (scoring) batch_scores_.resize(static_cast<size_t>(rows));
  if (score_aside) scoring_thread_.Start(in, batch_scores_.data());
  const absl::Time start = clock_.Now();
  const absl::Status status = model_->Forward(in, out);
  observer_->OnBatch(rows, clock_.Now() - start);
  const bool scored = status.ok() && scoring;
  if (score_aside) {
    scoring_thread_.Wait();  // (a failed forward's scores go unused)
  } else if (scored) {
    row_scorer_(in, batch_scores_.data());
  }

  int64_t offset = 0;
  for (const Slice& s : batch_) {
    InferenceTask* t = s.task;
    const int64_t first = offset;
    offset += s.rows;
    if (!status.ok()) {
      if (t->next_row_ < t->inputs.rows) {
        // Rows of it are still queued (it heads the queue: it was the last slice taken); unlink
        // it before Computed, after which the caller may free it.
        MutexLock lock(&mu_);
        head_ = t->next_;
        if (head_ == nullptr) tail_ = nullptr;
        queued_rows_ -= t->inputs.rows - t->next_row_;
      }
      t->Computed(status);
      continue;
    }
    if (!single) {
      std::memcpy(t->outputs.row(s.first_row), out.row(first), sizeof(float) * s.rows * cols);
    }
    if (scored && t->row_scores != nullptr) {
      std::memcpy(t->row_scores + s.first_row, batch_scores_.data() + first,
                  sizeof(double) * s.rows);
    }
    t->rows_done_ += s.rows;
    if (t->rows_done_ == t->inputs.rows) t->Computed(absl::OkStatus());
  }
}

ScoringThread::~ScoringThread() {
  {
    MutexLock lock(&mu_);
    while (pending_) cv_.Wait(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void ScoringThread::Start(RowsView rows, double* scores) {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  {
    MutexLock lock(&mu_);
    rows_ = rows;
    scores_ = scores;
    pending_ = true;
  }
  cv_.SignalAll();
}

void ScoringThread::Wait() {
  MutexLock lock(&mu_);
  while (pending_) cv_.Wait(&mu_);
}

void ScoringThread::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!pending_ && !stopping_) cv_.Wait(&mu_);
    if (!pending_) return;  // stopping
    const RowsView rows = rows_;
    double* const scores = scores_;
    lock.Unlock();
    scorer_(rows, scores);
    lock.Lock();
    pending_ = false;
    cv_.SignalAll();
  }
}

}  // namespace arginator::server
