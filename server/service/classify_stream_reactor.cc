#include "server/service/classify_stream_reactor.h"

#include "server/service/request_parser.h"

namespace arginator::server {

ClassifyStreamReactor::ClassifyStreamReactor(ClassifierService* service, absl::Time deadline)
    : service_(service), deadline_(deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  reading_ = true;
  lock.unlock();
  StartRead(&request_);
}

void ClassifyStreamReactor::OnReadDone(bool ok) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!ok) {
    reading_ = false;
    reads_done_ = true;
    Advance(lock);
    return;
  }
  auto slot = std::make_shared<Slot>();
  slot->message.set_request_id(request_.request_id());
  slots_.push_back(slot);
  lock.unlock();
  // reading_ stays true while Submit parses request_: a completion on the batcher thread must
  // not start the next read into the same buffer before Submit is done with it.
  const absl::Time start = absl::Now();
  service_->Submit(
      request_, deadline_, slot->message.mutable_response(),
      [this, slot, start](const absl::Status& status, const std::string& model, int64_t version) {
        service_->metrics()->RecordRequest(model, version, "ClassifyStream",
                                           CodeName(status.code()),
                                           absl::ToDoubleSeconds(absl::Now() - start));
        Complete(slot, status);
      });
  lock.lock();
  reading_ = false;
  Advance(lock);
}

void ClassifyStreamReactor::Complete(const std::shared_ptr<Slot>& slot,
                                     const absl::Status& status) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!status.ok()) {
    slot->message.clear_response();
    slot->message.set_error_code(static_cast<int>(status.code()));
    slot->message.set_error_message(std::string(status.message()));
  }
  slot->done = true;
  Advance(lock);
}

void ClassifyStreamReactor::OnWriteDone(bool ok) {
  std::unique_lock<std::mutex> lock(mu_);
  writing_ = false;
  slots_.pop_front();
  if (!ok) broken_ = true;
  Advance(lock);
}

void ClassifyStreamReactor::OnCancel() {
  std::unique_lock<std::mutex> lock(mu_);
  broken_ = true;
  Advance(lock);
}

void ClassifyStreamReactor::OnDone() { delete this; }

void ClassifyStreamReactor::Advance(std::unique_lock<std::mutex>& lock) {
  if (finished_) return;
  // A broken stream drops answers that can no longer be delivered.
  while (broken_ && !writing_ && !slots_.empty() && slots_.front()->done) slots_.pop_front();
  v1::ClassifyStreamResponse* to_write = nullptr;
  if (!broken_ && !writing_ && !slots_.empty() && slots_.front()->done) {
    writing_ = true;
    to_write = &slots_.front()->message;
  }
  const bool read = !reads_done_ && !broken_ && !reading_ &&
                    static_cast<int>(slots_.size()) < service_->options().stream_max_in_flight;
  if (read) reading_ = true;
  const bool finish = (reads_done_ || broken_) && slots_.empty() && !writing_ && !reading_;
  if (finish) finished_ = true;
  const bool cancelled = broken_;
  lock.unlock();
  if (to_write) StartWrite(to_write);
  if (read) StartRead(&request_);
  if (finish) {
    Finish(cancelled ? grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled")
                     : grpc::Status::OK);
  }
}

}  // namespace arginator::server
