#include "server/serving/shadow_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace arginator::server {

// One shadowed request: its rows and the default's answer, then the shadow's forward.
class ShadowRunner::Job final : public InferenceTask {
 public:
  Job(ShadowRunner* runner, ServableHandle primary, ServableHandle shadow, RowsView in,
      const std::vector<float>& norms, const Verdicts& verdicts)
      : runner_(runner),
        primary(std::move(primary)),
        shadow(std::move(shadow)),
        rows_(in.data, in.data + in.size()),
        norms(norms),
        primary_rows(verdicts.rows),
        primary_calibrated(verdicts.calibrated) {
    inputs = RowsView(rows_.data(), in.rows, in.cols);
    probs_.resize(static_cast<size_t>(in.rows) * this->shadow->card.labels.size());
    outputs = MutableRowsView(probs_.data(), in.rows,
                              static_cast<int64_t>(this->shadow->card.labels.size()));
    if (this->shadow->density != nullptr) {
      density_scores.resize(static_cast<size_t>(in.rows));
      row_scores = density_scores.data();
    }
  }
  void Computed(const absl::Status& status) override { runner_->Done(this, status); }

  ShadowRunner* const runner_;
  const ServableHandle primary, shadow;
  std::vector<float> rows_;
  const std::vector<float> norms;
  const std::vector<RowVerdict> primary_rows;
  const std::vector<float> primary_calibrated;
  std::vector<float> probs_;
  std::vector<double> density_scores;  // the shadow's, from its batcher
};

ShadowRunner::ShadowRunner(ServerMetrics* metrics, int64_t max_pending_rows)
    : metrics_(metrics), max_pending_rows_(max_pending_rows) {
  worker_ = std::thread([this] { RunWorker(); });
}

ShadowRunner::~ShadowRunner() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  worker_.join();
  Flush();
}

void ShadowRunner::Submit(ServableHandle primary, ServableHandle shadow, RowsView inputs,
                          const std::vector<float>& norms, const Verdicts& verdicts) {
  const std::string model = primary->card.name;
  // Built before the lock: the copy of the rows is the one cost of shadowing on this thread.
  const int64_t rows = inputs.rows;
  const bool fits = shadow->card.input_dim == inputs.cols;
  std::unique_ptr<Job> job =
      fits ? std::make_unique<Job>(this, primary, shadow, inputs, norms, verdicts) : nullptr;
  {
    MutexLock lock(&mu_);
    ShadowSummary& s = summaries_[model];
    if (s.primary_version != primary->card.version || s.shadow_version != shadow->card.version) {
      s = ShadowSummary();
      s.model = model;
      s.primary_version = primary->card.version;
      s.shadow_version = shadow->card.version;
    }
    // A shadow of another input width cannot take these rows: every one is dropped.
    if (stopping_ || pending_rows_ + rows > max_pending_rows_ || !fits) {
      s.dropped += rows;
      if (metrics_) metrics_->RecordShadowDropped(model, shadow->card.version, rows);
      return;
    }
    pending_rows_ += rows;
    queue_.push_back(std::move(job));
  }
  cv_.Signal();
}

void ShadowRunner::RunWorker() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
    if (queue_.empty()) return;
    Job* job = queue_.front().release();
    queue_.pop_front();
    lock.Unlock();
    // The batcher may run the forward here, on this thread, or hand it to its worker; either way
    // Done follows. A refused enqueue (a full queue, a stopped batcher) is a drop.
    const ServableHandle keep = job->shadow;
    if (absl::Status s = keep->batcher->Enqueue(job); !s.ok()) Done(job, s);
    lock.Lock();
  }
}

void ShadowRunner::Done(Job* job, const absl::Status& status) {
  std::unique_ptr<Job> owned(job);
  const ModelCard& shadow_card = job->shadow->card;
  const ModelCard& primary_card = job->primary->card;
  const int64_t rows = job->inputs.rows;
  Verdicts verdicts;
  absl::Status s = status;
  if (s.ok()) {
    s = Postprocess(job->outputs, job->inputs, job->norms, shadow_card, job->shadow->density.get(),
                    verdicts, job->row_scores);
  }
  std::vector<std::pair<std::string, std::string>> flips;
  std::vector<double> drifts;
  int64_t agreements = 0;
  if (s.ok()) {
    const auto primary_cols = static_cast<int64_t>(primary_card.labels.size());
    const auto shadow_cols = static_cast<int64_t>(shadow_card.labels.size());
    for (int64_t i = 0; i < rows; ++i) {
      const RowVerdict& p = job->primary_rows[static_cast<size_t>(i)];
      const RowVerdict& q = verdicts.rows[static_cast<size_t>(i)];
      const std::string from = CallName(primary_card, p);
      const std::string to = CallName(shadow_card, q);
      if (from == to) {
        ++agreements;
      } else {
        flips.emplace_back(from, to);
      }
      // The label the default called (its top calibrated label when uncertain).
      const float* pc = job->primary_calibrated.data() + i * primary_cols;
      const int64_t top = std::max_element(pc, pc + primary_cols) - pc;
      const int label = p.call >= 0 ? p.call : static_cast<int>(top);
      const std::string& name = primary_card.labels[static_cast<size_t>(label)];
      auto at = std::find(shadow_card.labels.begin(), shadow_card.labels.end(), name);
      double drift = 1;
      if (at != shadow_card.labels.end()) {
        const int64_t j = at - shadow_card.labels.begin();
        drift = std::fabs(static_cast<double>(pc[label]) -
                          verdicts.calibrated[static_cast<size_t>(i * shadow_cols + j)]);
      }
      drifts.push_back(drift);
    }
  }
  MutexLock lock(&mu_);
  pending_rows_ -= rows;
  ShadowSummary& sum = summaries_[primary_card.name];
  const bool current =
      sum.primary_version == primary_card.version && sum.shadow_version == shadow_card.version;
  if (!s.ok()) {
    if (current) sum.dropped += rows;
    if (metrics_) metrics_->RecordShadowDropped(primary_card.name, shadow_card.version, rows);
  } else {
    if (current) {
      double total = sum.mean_probability_drift * static_cast<double>(sum.rows);
      for (double d : drifts) {
        total += d;
        sum.max_probability_drift = std::max(sum.max_probability_drift, d);
      }
      sum.rows += rows;
      sum.agreements += agreements;
      for (const auto& flip : flips) ++sum.flips[flip];
      sum.mean_probability_drift = sum.rows > 0 ? total / static_cast<double>(sum.rows) : 0;
    }
    if (metrics_) {
      metrics_->RecordShadow(primary_card.name, shadow_card.version, primary_card.version, rows,
                             agreements, flips, drifts);
    }
  }
  cv_.SignalAll();
}

ShadowSummary ShadowRunner::Summary(const std::string& model) const {
  MutexLock lock(&mu_);
  auto it = summaries_.find(model);
  if (it != summaries_.end()) return it->second;
  ShadowSummary none;
  none.model = model;
  return none;
}

void ShadowRunner::Flush() {
  MutexLock lock(&mu_);
  while (pending_rows_ > 0) cv_.Wait(&mu_);
}

}  // namespace arginator::server
