#include "client/loadgen/load_generator.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/loadgen/call_slot.h"
#include "client/loadgen/request_payloads.h"

namespace arginator::client {
namespace {

// The run's schedule and payloads, shared read-only by every thread but for `issued`.
struct Plan {
  explicit Plan(const LoadOptions& o) : options(o) {}

  const LoadOptions& options;
  std::vector<grpc::ByteBuffer> requests;
  absl::Time start, measure_from, end;  // end: InfiniteFuture with --total
  std::atomic<int64_t> issued{0};       // measured requests started, against options.total

  // Whether a request intended at `intended` is sent, and if so whether it is measured.
  bool Admit(absl::Time intended, bool* measured) {
    if (intended >= end) return false;
    *measured = intended >= measure_from;
    return !(*measured && options.total > 0 && issued.fetch_add(1) >= options.total);
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

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& o) {
  if (o.concurrency < 1 || o.connections < 1 || o.batch < 1 || o.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency (", o.concurrency, "), connections (", o.connections,
                     ") and batch (", o.batch, ") must be >= 1, threads (", o.threads, ") >= 0"));
  }
  if (o.total <= 0 && o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("give --duration or --total");
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

  plan.start = absl::Now();
  plan.measure_from = plan.start + o.warmup;
  plan.end = o.total > 0 ? absl::InfiniteFuture() : plan.measure_from + o.duration;
  // A stream lives for the whole run: its deadline is the run's end plus one timeout.
  const absl::Time stream_deadline =
      plan.end == absl::InfiniteFuture() ? plan.end : plan.end + o.timeout;

  // Slot s uses connection s % connections and worker s % threads, so with threads dividing
  // connections each connection's completions land on one worker.
  std::vector<std::unique_ptr<Worker>> workers(WorkerThreads(o));
  for (auto& worker : workers) worker = std::make_unique<Worker>();
  IdleSlots idle;
  for (int s = 0; s < o.concurrency; ++s) {
    Worker& worker = *workers[s % workers.size()];
    const std::shared_ptr<grpc::Channel>& channel = channels[s % channels.size()];
    std::unique_ptr<CallSlot> slot;
    if (o.stream) {
      slot = std::make_unique<StreamSlot>(channel, worker.cq(), stream_deadline);
    } else {
      slot = std::make_unique<UnarySlot>(channel, worker.cq(), o.timeout);
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
  absl::Time last = plan.measure_from;
  for (auto& worker : workers) {
    const Tally& t = worker->tally();
    report.latencies.Merge(t.latencies);
    for (const auto& [code, n] : t.codes) {
      report.status_codes[StatusCodeName(static_cast<grpc::StatusCode>(code))] += n;
    }
    for (const auto& [message, n] : t.errors) report.errors[message] += n;
    report.embeddings += t.embeddings;
    last = std::max(last, t.last_done);
  }
  report.count = report.latencies.count();
  report.total = last - plan.measure_from;
  return report;
}

}  // namespace arginator::client
