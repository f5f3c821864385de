#pragma once

#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.pb.h"
#include "common/mutex.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/v1/classify_call.h"

namespace arginator::server {

class ClassifyStreams;

// One ClassifyStream call, registered raw: each message's bytes are parsed here, so a message
// which does not parse is that message's error, not the end of the stream. Reads each message into
// a slot of its own and serves it on the serving path; answers strictly in request order with one
// write in flight; pauses reading while `max_in_flight` requests are unanswered (flow control back
// to the client). Reading goes on while a request is computed, even when this stream's thread is
// the one computing a batch. A bad request gets an error response and the stream goes on. Slots
// are reused once written, so a steady stream allocates nothing of its own. Owned by
// ClassifyStreams from Open until gRPC's OnDone, which comes only after Finish; Finish waits until
// every started request has been answered.
class ClassifyStreamReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // Use ClassifyStreams::Open.
  ClassifyStreamReactor(ServingPath* path, int max_in_flight, absl::Time deadline,
                        ClassifyStreams* streams);

  // Shutdown: reads no more messages, answers every one already read, then ends the stream with
  // UNAVAILABLE (OK if the client had already half-closed), so the client retries the rest
  // elsewhere instead of losing it when the server's grace period cancels the call. Safe to call
  // at any time while the stream is owned, including after it finished.
  void Drain();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  friend class ClassifyStreams;
  struct Slot : ClassifyServingCall {
    explicit Slot(ClassifyStreamReactor* r) : reactor(r) {}
    void Finish(const absl::Status& status) override { reactor->Answered(this, status); }
    using ClassifyServingCall::Serve;

    ClassifyStreamReactor* const reactor;
    grpc::ByteBuffer read_bytes;  // the read's target
    v1::ClassifyRequest request;
    v1::ClassifyStreamResponse message;
    grpc::ByteBuffer write_bytes;  // `message` serialized
    bool done = false;             // under the reactor's mu_
  };

  // Starts reading, or drains at once when the server is already shutting down.
  void Begin(bool drain);
  // A slot's request was answered (the path finished it).
  void Answered(Slot* slot, const absl::Status& status);
  // Each returns with mu_ released; they start at most one gRPC operation of each kind and call
  // into gRPC only after releasing it.
  void Advance() ABSL_UNLOCK_FUNCTION(mu_);  // entered with mu_ held
  std::unique_ptr<Slot> TakeSpare() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recycle(std::unique_ptr<Slot> slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ServingPath* const path_;
  const int max_in_flight_;
  const absl::Time deadline_;
  ClassifyStreams* const streams_;

  Mutex mu_;
  int64_t messages_ = 0;                // read so far (the executor of OnReadDone only)
  std::unique_ptr<Slot> reading_slot_;  // the pending read's target (changed only between reads)
  std::deque<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);   // unanswered, in order
  std::vector<std::unique_ptr<Slot>> spare_ ABSL_GUARDED_BY(mu_);  // written, for reuse
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;  // a read is pending
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // cancelled or a write failed
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// The open ClassifyStream calls, which it owns, so that shutdown can drain them. Thread-safe. No
// lock is held while a stream is drained (Drain calls gRPC's Finish, which may call OnDone on the
// same thread): DrainAll holds a reference to each stream instead, so a stream that is done
// meanwhile is deleted only once DrainAll lets go of it.
class ClassifyStreams {
 public:
  // A new stream for gRPC, owned here until its OnDone.
  ClassifyStreamReactor* Open(ServingPath* path, int max_in_flight, absl::Time deadline);
  // Drains every open stream, and every stream that opens from now on.
  void DrainAll();

 private:
  friend class ClassifyStreamReactor;
  void Close(ClassifyStreamReactor* stream);  // its OnDone

  Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::map<ClassifyStreamReactor*, std::shared_ptr<ClassifyStreamReactor>> open_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server
