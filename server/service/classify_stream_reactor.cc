#include "server/service/classify_stream_reactor.h"

#include "absl/strings/str_cat.h"
#include "common/status_code_names.h"
#include "server/service/request_parser.h"

namespace arginator::server {

ClassifyStreamReactor::ClassifyStreamReactor(const ClassifyEnv* env, int max_in_flight,
                                             absl::Time deadline, ClassifyStreams* streams)
    : env_(env), max_in_flight_(max_in_flight), deadline_(deadline), streams_(streams) {
  if (streams_->Add(this)) {
    mu_.Lock();
    draining_ = true;
    Advance();
    return;
  }
  mu_.Lock();
  reading_ = true;
  reading_slot_ = TakeSpare();
  Slot* target = reading_slot_.get();
  mu_.Unlock();
  StartRead(&target->received);
}

void ClassifyStreamReactor::Drain() {
  mu_.Lock();
  draining_ = true;
  Advance();
}

void ClassifyStreamReactor::OnReadDone(bool ok) {
  mu_.Lock();
  reading_ = false;
  if (finished_) {  // a read that completed after a drain ended the stream: unanswerable
    mu_.Unlock();
    return;
  }
  if (!ok) {
    reads_done_ = true;
    Advance();
    return;
  }
  Slot* slot = reading_slot_.get();
  const int64_t index = messages_++;
  slots_.push_back(std::move(reading_slot_));
  if (!slot->received.parsed) {
    // This message's answer is the error; the stream goes on.
    slot->message.set_error_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
    slot->message.set_error_message(
        absl::StrCat("stream message ", index, ": ", UnparseableClassifyRequest().message()));
    slot->done = true;
    env_->metrics->RecordRequest(kUnknownModelLabel, 0, RequestMethod::kClassifyStream,
                                 StatusCodeName(absl::StatusCode::kInvalidArgument), 0);
    Advance();
    return;
  }
  slot->message.set_request_id(slot->received.message.request_id());
  // The next read goes into another slot, so it can start before this request is computed.
  Advance();
  slot->Start(*env_, RequestMethod::kClassifyStream, slot->received.message, deadline_,
              slot->message.mutable_response());
}

void ClassifyStreamReactor::Complete(Slot* slot, const absl::Status& status) {
  mu_.Lock();
  if (!status.ok()) {
    slot->message.clear_response();
    slot->message.set_error_code(static_cast<int>(status.code()));
    slot->message.set_error_message(std::string(status.message()));
  }
  slot->done = true;
  Advance();
}

void ClassifyStreamReactor::OnWriteDone(bool ok) {
  mu_.Lock();
  writing_ = false;
  Recycle(std::move(slots_.front()));
  slots_.pop_front();
  if (!ok) broken_ = true;
  Advance();
}

void ClassifyStreamReactor::OnCancel() {
  mu_.Lock();
  broken_ = true;
  Advance();
}

void ClassifyStreamReactor::OnDone() {
  streams_->Remove(this);
  delete this;
}

std::unique_ptr<ClassifyStreamReactor::Slot> ClassifyStreamReactor::TakeSpare() {
  if (spare_.empty()) return std::make_unique<Slot>(this);
  std::unique_ptr<Slot> slot = std::move(spare_.back());
  spare_.pop_back();
  return slot;
}

void ClassifyStreamReactor::Recycle(std::unique_ptr<Slot> slot) {
  if (static_cast<int>(spare_.size()) > max_in_flight_) return;  // deleted
  slot->received.message.Clear();
  slot->received.parsed = false;
  slot->message.Clear();
  slot->done = false;
  spare_.push_back(std::move(slot));
}

void ClassifyStreamReactor::Advance() {
  if (finished_) {
    mu_.Unlock();
    return;
  }
  // A broken stream drops answers that can no longer be delivered.
  while (broken_ && !writing_ && !slots_.empty() && slots_.front()->done) {
    Recycle(std::move(slots_.front()));
    slots_.pop_front();
  }
  Slot* to_write = nullptr;
  if (!broken_ && !writing_ && !slots_.empty() && slots_.front()->done) {
    writing_ = true;
    to_write = slots_.front().get();
  }
  ReceivedClassifyRequest* to_read = nullptr;
  if (!reads_done_ && !broken_ && !draining_ && !reading_ &&
      static_cast<int>(slots_.size()) < max_in_flight_) {
    reading_ = true;
    reading_slot_ = TakeSpare();
    to_read = &reading_slot_->received;
  }
  // A drained stream finishes with a read still pending: gRPC completes it (not ok) afterwards.
  const bool finish = slots_.empty() && !writing_ &&
                      (((reads_done_ || broken_) && !reading_) || (draining_ && !reads_done_));
  if (finish) finished_ = true;
  const bool cancelled = broken_;
  const bool drained = draining_ && !reads_done_;
  const int64_t answered = messages_;
  mu_.Unlock();
  if (to_write) {
    // The slot is done and stays at the front until its write completes: nobody else touches it.
    StartWrite(&to_write->message);
  }
  if (to_read) StartRead(to_read);
  if (finish) {
    if (cancelled) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
    } else if (drained) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("server is shutting down: the stream's ", answered,
                                       " message(s) read were answered; send the rest again")));
    } else {
      Finish(grpc::Status::OK);
    }
  }
}

bool ClassifyStreams::Add(ClassifyStreamReactor* stream) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  open_.insert(stream);
  return draining_;
}

void ClassifyStreams::Remove(ClassifyStreamReactor* stream) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  open_.erase(stream);
}

void ClassifyStreams::DrainAll() {
  // Held throughout: another thread's stream cannot be done (and deleted) while it drains.
  std::lock_guard<std::recursive_mutex> lock(mu_);
  draining_ = true;
  const std::vector<ClassifyStreamReactor*> open(open_.begin(), open_.end());
  for (ClassifyStreamReactor* stream : open) stream->Drain();
}

}  // namespace arginator::server
