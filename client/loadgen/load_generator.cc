#include "client/loadgen/load_generator.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iterator>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/loadgen/call_slot.h"
#include "client/loadgen/request_payloads.h"
#include "common/status_code_names.h"

namespace arginator::client {
namespace {

// The run's schedule and payloads, shared read-only by every thread but for the atomics.
struct Plan {
  explicit Plan(const LoadOptions& o) : options(o) {}

  const LoadOptions& options;
  std::vector<grpc::ByteBuffer> requests;
  absl::Time start, measure_from, end;  // end: InfiniteFuture when only the total stops the run
  bool by_total = false;                // the total stops the run (no -z)
  std::atomic<int64_t> issued{0};       // measured requests started, against options.total
  std::atomic<bool> timed_out{false}, interrupted{false};

  // Whether a request intended at `intended` is sent, and if so whether it is measured.
  bool Admit(absl::Time intended, bool* measured) {
    if (options.interrupt != nullptr && options.interrupt->load(std::memory_order_relaxed)) {
      interrupted = true;
      return false;
    }
    if (intended >= end) {
      timed_out = true;
      return false;
    }
    *measured = intended >= measure_from;
    return !(*measured && by_total && issued.fetch_add(1) >= options.total);
  }

  std::string EndReason() const {
    if (interrupted) return "cancel";
    return timed_out ? "timeout" : "normal";
  }
};

// Idle slots handed from the workers back to the open loop's pacer.
class IdleSlots {
 public:
  void Put(CallSlot* slot) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(slot);
  }
  CallSlot* Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<CallSlot*>* v) { return !v->empty(); }, &idle_));
    CallSlot* slot = idle_.back();
    idle_.pop_back();
    return slot;
  }

 private:
  absl::Mutex mu_;
  std::vector<CallSlot*> idle_ ABSL_GUARDED_BY(mu_);
};

// A thread with its own completion queue and the slots whose operations complete on it.
class Worker {
 public:
  explicit Worker(RecordPolicy* policy) : tally_(policy) {}
  void AddSlot(std::unique_ptr<CallSlot> slot) { slots_.push_back(std::move(slot)); }
  grpc::CompletionQueue* cq() { return &cq_; }
  const std::vector<std::unique_ptr<CallSlot>>& slots() const { return slots_; }
  Tally& tally() { return tally_; }

  // Closed loop: every slot sends its next request as soon as its answer arrives, until the plan
  // admits no more; then the queue is shut down and drained.
  void RunClosedLoop(Plan& plan) {
    size_t next_request = 0;
    auto start_next = [&](CallSlot* slot) {
      bool measured = false;
      const absl::Time now = absl::Now();
      if (!plan.Admit(now, &measured)) return false;
      slot->Start(plan.requests[next_request++ % plan.requests.size()], now, measured);
      return true;
    };
    size_t busy = 0;
    for (auto& slot : slots_) {
      if (start_next(slot.get())) {
        ++busy;
      } else {
        slot->Close();
      }
    }
    void* tag;
    bool ok;
    while (busy > 0 && cq_.Next(&tag, &ok)) {
      if (tag == IgnoredTag()) continue;
      auto* slot = static_cast<CallSlot*>(tag);
      if (!slot->OnEvent(ok, tally_) || start_next(slot)) continue;
      slot->Close();
      --busy;
    }
    cq_.Shutdown();
    Drain();
  }

  // Open loop: the pacer starts requests on idle slots; finished slots go back to `idle`. Runs
  // until the pacer shuts the queue down.
  void RunOpenLoop(IdleSlots& idle) {
    Drain([&](CallSlot* slot, bool ok) {
      if (slot->OnEvent(ok, tally_)) idle.Put(slot);
    });
  }

 private:
  void Drain(const std::function<void(CallSlot*, bool)>& on_event = nullptr) {
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
      if (tag != IgnoredTag() && on_event) on_event(static_cast<CallSlot*>(tag), ok);
    }
  }

  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<CallSlot>> slots_;  // destroyed only after cq_ is drained
  Tally tally_;
};

// Open loop: request k is intended at start + k / rps and sent then on an idle slot, or later
// when none is idle; its latency still counts from the intended time. At the end it takes every
// slot back, closes them and shuts the workers' queues down.
void Pace(Plan& plan, IdleSlots& idle, std::vector<std::unique_ptr<Worker>>& workers) {
  const absl::Duration interval = absl::Seconds(1.0 / plan.options.rps);
  for (int64_t k = 0;; ++k) {
    const absl::Time intended = plan.start + interval * k;
    bool measured = false;
    if (!plan.Admit(intended, &measured)) break;
    absl::SleepFor(intended - absl::Now());
    idle.Take()->Start(plan.requests[k % plan.requests.size()], intended, measured);
  }
  for (int i = 0; i < plan.options.concurrency; ++i) idle.Take();
  for (auto& worker : workers) {
    for (const auto& slot : worker->slots()) slot->Close();
    worker->cq()->Shutdown();
  }
}

int WorkerThreads(const LoadOptions& o) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int threads = o.threads > 0 ? o.threads : std::min(o.connections, cores);
  return std::min(threads, o.concurrency);
}

// Every connection up within the connect timeout, as ghz dials before it starts.
absl::Status Connect(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                     const LoadOptions& o) {
  const auto deadline = absl::ToChronoTime(absl::Now() + o.connect_timeout);
  for (const auto& channel : channels) {
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", o.client.target, " within ",
                       absl::FormatDuration(o.connect_timeout),
                       o.client.tls ? " over TLS (a plaintext server needs --insecure)" : ""));
    }
  }
  return absl::OkStatus();
}

void Merge(std::vector<std::unique_ptr<Worker>>& workers, LoadReport& report) {
  for (auto& worker : workers) {
    Tally& t = worker->tally();
    report.count += t.count;
    report.average_ns += t.latency_sum_ns;  // divided below
    report.latencies.Merge(t.latencies);
    for (const auto& [code, n] : t.codes) {
      report.status_codes[GoStatusCodeName(code)] += n;
    }
    for (const auto& [message, n] : t.errors) report.errors[message] += n;
    report.embeddings += t.embeddings;
    std::move(t.details.begin(), t.details.end(), std::back_inserter(report.details));
  }
  if (report.count > 0) report.average_ns /= report.count;
  std::stable_sort(report.details.begin(), report.details.end(),
                   [](const Detail& a, const Detail& b) { return a.done < b.done; });
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& o) {
  if (o.concurrency < 1 || o.connections < 1 || o.batch < 1 || o.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency (", o.concurrency, "), connections (", o.connections,
                     ") and batch (", o.batch, ") must be >= 1, threads (", o.threads, ") >= 0"));
  }
  if (o.duration <= absl::ZeroDuration() && o.total <= 0) {
    return absl::InvalidArgumentError("give -z/--duration or -n/--total (> 0)");
  }
  Plan plan(o);
  auto requests = EncodeRequests(o);
  if (!requests.ok()) return requests.status();
  plan.requests = *std::move(requests);

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < o.connections; ++c) {
    auto channel = MakeChannel(o.client, /*separate_connection=*/true);
    if (!channel.ok()) return channel.status();
    channels.push_back(*std::move(channel));
  }
  if (absl::Status s = Connect(channels, o); !s.ok()) return s;

  plan.start = absl::Now();
  plan.measure_from = plan.start + o.warmup;
  plan.by_total = o.duration <= absl::ZeroDuration();
  if (!plan.by_total) {
    plan.end = plan.measure_from + o.duration;
  } else if (o.max_duration > absl::ZeroDuration()) {
    plan.end = plan.start + o.max_duration;
  } else {
    plan.end = absl::InfiniteFuture();
  }
  RecordPolicy policy;
  policy.count_errors = o.count_errors;
  policy.duration_stop = o.duration_stop;
  if (o.duration_stop != DurationStop::kWait) policy.cut_at = plan.end;
  policy.skip_first = o.skip_first;
  policy.detail_rows = o.details ? kMaxDetails : 0;
  CallSettings call = o.call;
  call.cut_at = policy.cut_at;
  // A stream lives for the whole run: its deadline is the cut, or the run's end plus one timeout.
  absl::Time stream_deadline = policy.cut_at;
  if (stream_deadline == absl::InfiniteFuture() && plan.end != absl::InfiniteFuture()) {
    stream_deadline =
        plan.end + (o.call.timeout > absl::ZeroDuration() ? o.call.timeout : absl::Seconds(20));
  }

  // Slot s uses connection s % connections and worker s % threads, so with threads dividing
  // connections each connection's completions land on one worker.
  std::vector<std::unique_ptr<Worker>> workers(WorkerThreads(o));
  for (auto& worker : workers) worker = std::make_unique<Worker>(&policy);
  IdleSlots idle;
  for (int s = 0; s < o.concurrency; ++s) {
    Worker& worker = *workers[s % workers.size()];
    const std::shared_ptr<grpc::Channel>& channel = channels[s % channels.size()];
    std::unique_ptr<CallSlot> slot;
    if (o.stream) {
      slot = std::make_unique<StreamSlot>(channel, worker.cq(), call, stream_deadline);
    } else {
      slot = std::make_unique<UnarySlot>(channel, worker.cq(), call);
    }
    idle.Put(slot.get());
    worker.AddSlot(std::move(slot));
  }

  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&, w = worker.get()] {
      if (o.rps > 0) {
        w->RunOpenLoop(idle);
      } else {
        w->RunClosedLoop(plan);
      }
    });
  }
  if (o.rps > 0) Pace(plan, idle, workers);
  for (auto& t : threads) t.join();

  LoadReport report;
  report.options = o;
  report.date = absl::Now();
  report.end_reason = plan.EndReason();
  Merge(workers, report);
  absl::Time last = plan.measure_from;
  for (auto& worker : workers) last = std::max(last, worker->tally().last_done);
  // A cut run lasted until its end; otherwise until its last answer.
  if (plan.timed_out && policy.cut_at != absl::InfiniteFuture()) last = policy.cut_at;
  report.total = last - plan.measure_from;
  return report;
}

}  // namespace arginator::client
