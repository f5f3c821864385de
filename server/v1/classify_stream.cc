#include "server/v1/classify_stream.h"

#include "absl/strings/str_cat.h"
#include "server/grpc/unary_call.h"

namespace arginator::server {

ClassifyStreamReactor::ClassifyStreamReactor(ServingPath* path, int max_in_flight,
                                             absl::Time deadline, ClassifyStreams* streams)
    : path_(path), max_in_flight_(max_in_flight), deadline_(deadline), streams_(streams) {}

void ClassifyStreamReactor::Begin(bool drain) {
  mu_.Lock();
  if (drain) {
    draining_ = true;
    Advance();
    return;
  }
  reading_ = true;
  reading_slot_ = TakeSpare();
  Slot* target = reading_slot_.get();
  mu_.Unlock();
  StartRead(&target->read_bytes);
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
  const bool parsed = ParseReceived(slot->read_bytes, &slot->request);
  slot->read_bytes.Clear();
  if (!parsed) {
    // This message's answer is the error; the stream goes on.
    const absl::Status refused = UnparseableClassifyRequest();
    slot->message.set_error_code(static_cast<int>(refused.code()));
    slot->message.set_error_message(
        absl::StrCat("stream message ", index, ": ", refused.message()));
    slot->done = true;
    Advance();
    path_->Refuse(RequestMethod::kClassifyStream, "", refused);
    return;
  }
  slot->message.set_request_id(slot->request.request_id());
  // The next read goes into another slot, so it can start before this request is computed.
  Advance();
  slot->Serve(path_, RequestMethod::kClassifyStream, slot->request, deadline_,
              slot->message.mutable_response());
}

void ClassifyStreamReactor::Answered(Slot* slot, const absl::Status& status) {
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

void ClassifyStreamReactor::OnDone() { streams_->Close(this); }

std::unique_ptr<ClassifyStreamReactor::Slot> ClassifyStreamReactor::TakeSpare() {
  if (spare_.empty()) return std::make_unique<Slot>(this);
  std::unique_ptr<Slot> slot = std::move(spare_.back());
  spare_.pop_back();
  return slot;
}

void ClassifyStreamReactor::Recycle(std::unique_ptr<Slot> slot) {
  if (static_cast<int>(spare_.size()) > max_in_flight_) return;  // deleted
  slot->request.Clear();
  slot->message.Clear();
  slot->write_bytes.Clear();
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
  grpc::ByteBuffer* to_read = nullptr;
  if (!reads_done_ && !broken_ && !draining_ && !reading_ &&
      static_cast<int>(slots_.size()) < max_in_flight_) {
    reading_ = true;
    reading_slot_ = TakeSpare();
    to_read = &reading_slot_->read_bytes;
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
    if (grpc::Status s = SerializeForSending(to_write->message, &to_write->write_bytes); !s.ok()) {
      to_write->message.Clear();
      to_write->message.set_error_code(static_cast<int>(grpc::StatusCode::INTERNAL));
      to_write->message.set_error_message("the answer could not be serialized");
      to_write->write_bytes.Clear();
      (void)SerializeForSending(to_write->message, &to_write->write_bytes);
    }
    StartWrite(&to_write->write_bytes);
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

ClassifyStreamReactor* ClassifyStreams::Open(ServingPath* path, int max_in_flight,
                                             absl::Time deadline) {
  auto stream = std::make_shared<ClassifyStreamReactor>(path, max_in_flight, deadline, this);
  bool drain = false;
  {
    MutexLock lock(&mu_);
    open_[stream.get()] = stream;
    drain = draining_;
  }
  stream->Begin(drain);
  return stream.get();  // owned by open_ until Close
}

void ClassifyStreams::Close(ClassifyStreamReactor* stream) {
  std::shared_ptr<ClassifyStreamReactor> owned;
  {
    MutexLock lock(&mu_);
    auto it = open_.find(stream);
    if (it == open_.end()) return;
    owned = std::move(it->second);
    open_.erase(it);
  }
  // Deleted here, or by DrainAll when it holds the last reference.
}

void ClassifyStreams::DrainAll() {
  std::vector<std::shared_ptr<ClassifyStreamReactor>> open;
  {
    MutexLock lock(&mu_);
    draining_ = true;
    for (const auto& [stream, owned] : open_) open.push_back(owned);
  }
  for (const auto& stream : open) stream->Drain();
}

}  // namespace arginator::server
