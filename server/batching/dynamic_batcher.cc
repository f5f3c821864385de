#include "server/batching/dynamic_batcher.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace arginator::server {

DynamicBatcher::DynamicBatcher(std::shared_ptr<Model> model, BatcherOptions options,
                               std::shared_ptr<BatcherObserver> observer)
    : model_(std::move(model)),
      options_(options),
      observer_(observer ? std::move(observer) : std::make_shared<BatcherObserver>()),
      dim_(model_->input_dim()) {
  batch_inputs_.reserve(static_cast<size_t>(options_.max_batch_size) * dim_);
  thread_ = std::thread([this] { Run(); });
}

DynamicBatcher::~DynamicBatcher() { Stop(); }

absl::Status DynamicBatcher::Enqueue(std::unique_ptr<InferenceTask> task) {
  if (task->n <= 0 || task->inputs.size() != static_cast<size_t>(task->n) * dim_) {
    return absl::InvalidArgumentError(
        absl::StrCat("task has ", task->inputs.size(), " floats for ", task->n, " rows of ", dim_));
  }
  if (task->n > options_.max_queue_rows) {
    return absl::InvalidArgumentError(absl::StrCat("request of ", task->n,
                                                   " embeddings exceeds the queue capacity of ",
                                                   options_.max_queue_rows));
  }
  auto pending = std::make_shared<Pending>();
  pending->task = std::move(task);
  pending->enqueued = absl::Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("model version is unloading");
    if (queued_rows_ + pending->task->n > options_.max_queue_rows) {
      return absl::ResourceExhaustedError(absl::StrCat("queue full: ", queued_rows_,
                                                       " embeddings waiting (max ",
                                                       options_.max_queue_rows, "); retry later"));
    }
    queued_rows_ += pending->task->n;
    queue_.push_back(std::move(pending));
    observer_->OnQueueDepth(queued_rows_);
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

int64_t DynamicBatcher::queued_rows() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_rows_;
}

std::vector<DynamicBatcher::Slice> DynamicBatcher::TakeBatch(
    std::vector<std::shared_ptr<Pending>>& expired) {
  std::vector<Slice> batch;
  int64_t rows = 0;
  const absl::Time now = absl::Now();
  while (!queue_.empty() && rows < options_.max_batch_size) {
    std::shared_ptr<Pending> p = queue_.front();
    const int64_t remaining = p->task->n - p->next_row;
    if (p->next_row == 0 && p->task->deadline < now) {
      // Not started and already too late: drop before spending compute on it.
      queue_.pop_front();
      queued_rows_ -= remaining;
      expired.push_back(std::move(p));
      continue;
    }
    if (p->failed) {
      // An earlier slice of this task failed and its caller has the error: skip the rest.
      // (TakeBatch runs on the batcher thread, which owns `failed`.)
      queue_.pop_front();
      queued_rows_ -= remaining;
      continue;
    }
    if (!options_.batching && !batch.empty()) break;
    const int64_t take = std::min(remaining, options_.max_batch_size - rows);
    batch.push_back({p, p->next_row, take});
    p->next_row += take;
    rows += take;
    queued_rows_ -= take;
    if (p->next_row == p->task->n) queue_.pop_front();
    if (!options_.batching) break;
  }
  observer_->OnQueueDepth(queued_rows_);
  return batch;
}

void DynamicBatcher::Run() {
  for (;;) {
    std::vector<Slice> batch;
    std::vector<std::shared_ptr<Pending>> expired;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (options_.batching && options_.max_queue_delay > absl::ZeroDuration()) {
        const absl::Time flush_at = queue_.front()->enqueued + options_.max_queue_delay;
        while (!stopping_ && queued_rows_ < options_.max_batch_size && absl::Now() < flush_at) {
          cv_.wait_until(lock, absl::ToChronoTime(flush_at));
        }
      }
      batch = TakeBatch(expired);
    }
    for (auto& p : expired) {
      p->task->done(absl::DeadlineExceededError(
          absl::StrCat("deadline passed after ", absl::FormatDuration(absl::Now() - p->enqueued),
                       " in the queue; not computed")));
    }
    if (!batch.empty()) Execute(batch);
  }
}

void DynamicBatcher::Execute(const std::vector<Slice>& batch) {
  int64_t rows = 0;
  const absl::Time now = absl::Now();
  for (const Slice& s : batch) {
    rows += s.rows;
    if (s.first_row == 0) observer_->OnQueueWait(now - s.pending->enqueued);
  }
  const float* inputs;
  if (batch.size() == 1) {
    inputs = batch[0].pending->task->inputs.data() + batch[0].first_row * dim_;
  } else {
    batch_inputs_.resize(static_cast<size_t>(rows) * dim_);
    float* dst = batch_inputs_.data();
    for (const Slice& s : batch) {
      const float* src = s.pending->task->inputs.data() + s.first_row * dim_;
      std::memcpy(dst, src, sizeof(float) * s.rows * dim_);
      dst += s.rows * dim_;
    }
    inputs = batch_inputs_.data();
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<Matrix> result = model_->Forward(inputs, rows);
  observer_->OnBatch(rows, absl::Now() - start);

  int64_t offset = 0;
  for (const Slice& s : batch) {
    Pending& p = *s.pending;
    if (p.failed) {
      offset += s.rows;
      continue;
    }
    if (!result.ok()) {
      p.failed = true;
      p.task->done(result.status());
      continue;
    }
    const int64_t cols = result->cols;
    if (p.output.values.empty()) {
      p.output.rows = p.task->n;
      p.output.cols = cols;
      p.output.values.resize(static_cast<size_t>(p.task->n) * cols);
    }
    std::memcpy(p.output.values.data() + s.first_row * cols, result->values.data() + offset * cols,
                sizeof(float) * s.rows * cols);
    offset += s.rows;
    p.rows_done += s.rows;
    if (p.rows_done == p.task->n) p.task->done(std::move(p.output));
  }
}

}  // namespace arginator::server
