#pragma once

#include <deque>
#include <memory>
#include <mutex>  // ClassifyStreams' std::recursive_mutex
#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "common/mutex.h"
#include "server/service/classify_job.h"
#include "server/service/received_request.h"

namespace arginator::server {

// One ClassifyStream call. Its messages arrive as ReceivedClassifyRequest, so a message which does
// not parse is that message's error, not the end of the stream. Reads each message into a slot
// of its own and starts the slot's ClassifyJob; answers strictly in request order with one write in
// flight; pauses reading while `max_in_flight` requests are unanswered (flow control back to the
// client). Reading goes on while a job runs, even when this stream's thread is the one computing a
// batch. A bad request gets an error response and the stream goes on. Slots are reused once
// written, so a steady stream allocates nothing of its own. Deletes itself in OnDone, which gRPC
// calls only after Finish; Finish waits until every started request has completed.
class ClassifyStreams;

class ClassifyStreamReactor
    : public grpc::ServerBidiReactor<ReceivedClassifyRequest, v1::ClassifyStreamResponse> {
 public:
  // Registers with `streams` (which must outlive it) until OnDone.
  ClassifyStreamReactor(const ClassifyEnv* env, int max_in_flight, absl::Time deadline,
                        ClassifyStreams* streams);

  // Shutdown: reads no more messages, answers every one already read, then ends the stream with
  // UNAVAILABLE (OK if the client had already half-closed), so the client retries the rest
  // elsewhere instead of losing it when the server's grace period cancels the call.
  void Drain();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  struct Slot : ClassifyJob {
    explicit Slot(ClassifyStreamReactor* r) : reactor(r) {}
    void Finish(const absl::Status& status) override { reactor->Complete(this, status); }

    ClassifyStreamReactor* const reactor;
    ReceivedClassifyRequest received;  // the read's target
    v1::ClassifyStreamResponse message;
    bool done = false;  // under the reactor's mu_
  };

  // Each returns with mu_ released; they start at most one gRPC operation of each kind.
  void Complete(Slot* slot, const absl::Status& status);
  void Advance() ABSL_UNLOCK_FUNCTION(mu_);  // entered with mu_ held
  std::unique_ptr<Slot> TakeSpare() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recycle(std::unique_ptr<Slot> slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClassifyEnv* const env_;
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

// The open ClassifyStream calls, so that shutdown can drain them. Thread-safe.
class ClassifyStreams {
 public:
  // Drains every open stream, and every stream that opens from now on.
  void DrainAll();

 private:
  friend class ClassifyStreamReactor;
  // Returns whether the stream must drain at once (DrainAll was called).
  bool Add(ClassifyStreamReactor* stream);
  void Remove(ClassifyStreamReactor* stream);

  // Recursive: a stream that Drain finishes may be done, and Remove itself, on the same thread.
  std::recursive_mutex mu_;
  bool draining_ = false;                  // under mu_
  std::set<ClassifyStreamReactor*> open_;  // under mu_
};

}  // namespace arginator::server
