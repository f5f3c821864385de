#pragma once

#include <deque>
#include <memory>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "server/service/classifier_service.h"

namespace arginator::server {

// One ClassifyStream call. Reads requests one at a time and submits each to the batcher; answers
// them strictly in request order with one write in flight; pauses reading while
// stream_max_in_flight requests are unanswered (flow control back to the client). A bad request
// gets an error response and the stream goes on. Deletes itself in OnDone, which gRPC calls only
// after Finish; Finish waits until every submitted request has completed.
class ClassifyStreamReactor
    : public grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyStreamResponse> {
 public:
  ClassifyStreamReactor(ClassifierService* service, absl::Time deadline);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  struct Slot {
    v1::ClassifyStreamResponse message;
    bool done = false;
  };

  // Each returns with mu_ released; they start at most one gRPC operation.
  void Complete(const std::shared_ptr<Slot>& slot, const absl::Status& status);
  void Advance(std::unique_lock<std::mutex>& lock);

  ClassifierService* const service_;
  const absl::Time deadline_;
  v1::ClassifyRequest request_;  // the read buffer: in use from StartRead until Submit returns

  std::mutex mu_;
  std::deque<std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);  // unanswered, in order
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;  // a read is pending or request_ is being parsed
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // cancelled or a write failed
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace arginator::server
