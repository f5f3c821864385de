#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "client/loadgen/latency_histogram.h"

namespace arginator::client {

// One worker's results. Only its worker thread writes it; the run merges them at the end.
struct Tally {
  LatencyHistogram latencies;
  std::map<int, int64_t> codes;  // grpc::StatusCode -> requests
  std::map<std::string, int64_t> errors;
  int64_t embeddings = 0;  // in OK responses
  absl::Time last_done = absl::InfinitePast();
};

// "OK", "UNAVAILABLE", ...: grpc::StatusCode's names as ghz reports them.
std::string StatusCodeName(grpc::StatusCode code);

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
  void Record(Tally& tally, const grpc::Status& status, int64_t embeddings) const;

 private:
  absl::Time intended_;
  bool measured_ = false;
};

// Classify: a unary call per request, each with its own deadline of `timeout` from its start.
class UnarySlot : public CallSlot {
 public:
  UnarySlot(std::shared_ptr<grpc::Channel> channel, grpc::CompletionQueue* cq,
            absl::Duration timeout);
  bool OnEvent(bool ok, Tally& tally) override;

 private:
  void Send(const grpc::ByteBuffer& request) override;

  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ClassifyResponse> stub_;
  grpc::CompletionQueue* const cq_;
  const std::chrono::nanoseconds timeout_;
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
             absl::Time deadline);
  bool OnEvent(bool ok, Tally& tally) override;
  void Close() override;

 private:
  enum class Step { kOpen, kWrite, kRead, kFinish };

  void Send(const grpc::ByteBuffer& request) override;
  void Finish();  // after a failed operation: collect the stream's status
  void Reset();

  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ClassifyStreamResponse> stub_;
  grpc::CompletionQueue* const cq_;
  const absl::Time deadline_;
  const grpc::ByteBuffer* request_ = nullptr;
  Step step_ = Step::kOpen;
  std::optional<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<grpc::ByteBuffer, v1::ClassifyStreamResponse>>
      stream_;
  v1::ClassifyStreamResponse response_;
  grpc::Status status_;
};

}  // namespace arginator::client
