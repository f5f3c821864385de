#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "client/loadgen/latency_histogram.h"

namespace arginator::client {

// How --duration-stop treats the calls still in flight when a timed run ends (ghz's meanings):
// close cuts them at the end and reports them as Canceled, ignore cuts them and leaves them out of
// the report, wait lets them finish and reports them.
enum class DurationStop { kClose, kIgnore, kWait };

// What every worker records by: read-only but for the two countdowns, which all workers share.
struct RecordPolicy {
  bool count_errors = false;  // errored calls count in fastest/slowest/percentiles/histogram
  DurationStop duration_stop = DurationStop::kClose;
  absl::Time cut_at = absl::InfiniteFuture();  // a timed run's end (close and ignore)
  std::atomic<int64_t> skip_first{0};          // results still to leave out (--skipFirst)
  std::atomic<int64_t> detail_rows{0};         // per-request rows still to keep (0: none)
};

// One request's row of ghz's `details`.
struct Detail {
  absl::Time done;  // when its answer (or error) arrived
  int64_t latency_ns = 0;
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string error;  // ghz's error string; empty when OK
};

// One worker's results. Only its worker thread writes it; the run merges them at the end.
struct Tally {
  explicit Tally(RecordPolicy* p) : policy(p) {}

  RecordPolicy* policy;
  int64_t count = 0;           // every recorded request
  int64_t latency_sum_ns = 0;  // of every recorded request (ghz's average)
  LatencyHistogram latencies;  // the requests the statistics count: OK ones, or all (count_errors)
  std::map<int, int64_t> codes;           // grpc::StatusCode -> requests
  std::map<std::string, int64_t> errors;  // ghz's error string -> requests
  std::vector<Detail> details;
  int64_t embeddings = 0;  // in OK responses
  absl::Time last_done = absl::InfinitePast();
};

// A failed call as grpc-go's error prints it, ghz's error key:
// "rpc error: code = NotFound desc = <message>".
std::string GhzErrorString(const grpc::Status& status);

// The tag of operations whose completion nobody waits for (closing a stream at the end of a
// run); the worker skips their events while it drains its queue.
void* IgnoredTag();

// One place for a request in flight: a call (or a stream) on one connection whose operations
// complete on one worker's completion queue, with the state reused from request to request.
// The slot's completion tag is the slot itself. A slot is owned by one thread at a time: Start
// is called when it is idle, OnEvent on the worker thread for each of its completions; the
// queue orders the two.
class CallSlot {
 public:
  virtual ~CallSlot() = default;

  // Sends `request` (which must outlive the request); latency counts from `intended`.
  void Start(const grpc::ByteBuffer& request, absl::Time intended, bool measured) {
    intended_ = intended;
    measured_ = measured;
    Send(request);
  }
  // Handles the completion of this slot's operation; true when the request is over (recorded in
  // `tally` if it was measured) and the slot is idle again.
  virtual bool OnEvent(bool ok, Tally& tally) = 0;
  // Ends what the slot keeps open between requests, without waiting: call it on an idle slot
  // before the queue is shut down; its completions carry IgnoredTag().
  virtual void Close() {}

 protected:
  virtual void Send(const grpc::ByteBuffer& request) = 0;
  // Records the request now over (unless it was not measured, is among the first skipped, or
  // ended after a cut that ignores it).
  void Record(Tally& tally, grpc::Status status, int64_t embeddings) const;

 private:
  absl::Time intended_;
  bool measured_ = false;
};

// What every call's context carries: request metadata, compression, and its deadline.
struct CallSettings {
  std::vector<std::pair<std::string, std::string>> metadata;
  bool gzip = false;
  // ClassifyStream: a stream that ends UNAVAILABLE under a request (a draining server answers
  // what it read and ends its streams) is opened again and that request sent on it, once, as a
  // client that reconnects would (classification is idempotent). Off by default, as in ghz.
  bool reopen_streams = false;
  absl::Duration timeout = absl::Seconds(20);      // per unary call; ZeroDuration = none
  absl::Time cut_at = absl::InfiniteFuture();      // no call's deadline goes past this
  void Apply(grpc::ClientContext& context) const;  // all but the deadline
};

// Classify: a unary call per request, each with its own deadline of `timeout` from its start
// (never past `cut_at`).
class UnarySlot : public CallSlot {
 public:
  UnarySlot(std::shared_ptr<grpc::Channel> channel, grpc::CompletionQueue* cq,
            const CallSettings& settings);
  bool OnEvent(bool ok, Tally& tally) override;

 private:
  void Send(const grpc::ByteBuffer& request) override;

  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ClassifyResponse> stub_;
  grpc::CompletionQueue* const cq_;
  const CallSettings& settings_;
  std::optional<grpc::ClientContext> context_;  // a context serves one call only
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ClassifyResponse>> call_;
  v1::ClassifyResponse response_;
  grpc::Status status_;
};

// ClassifyStream: one long-lived stream, one message in flight on it at a time. A message's
// error is that message's status; a broken stream counts its status once (for the request that
// found it broken) and is opened again by the next request. The stream's deadline is `deadline`.
class StreamSlot : public CallSlot {
 public:
  StreamSlot(std::shared_ptr<grpc::Channel> channel, grpc::CompletionQueue* cq,
             const CallSettings& settings, absl::Time deadline);
  bool OnEvent(bool ok, Tally& tally) override;
  void Close() override;

 private:
  enum class Step { kOpen, kWrite, kRead, kFinish };

  void Send(const grpc::ByteBuffer& request) override;
  void Finish();  // after a failed operation: collect the stream's status
  void Reset();

  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ClassifyStreamResponse> stub_;
  grpc::CompletionQueue* const cq_;
  const CallSettings& settings_;
  const absl::Time deadline_;
  const grpc::ByteBuffer* request_ = nullptr;
  Step step_ = Step::kOpen;
  std::optional<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<grpc::ByteBuffer, v1::ClassifyStreamResponse>>
      stream_;
  v1::ClassifyStreamResponse response_;
  grpc::Status status_;
  bool reopened_ = false;  // this request was already sent again on a new stream
};

}  // namespace arginator::client
