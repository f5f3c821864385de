#include "client/loadgen/call_slot.h"

#include <algorithm>
#include <utility>

namespace arginator::client {
namespace {

const std::string kClassify = "/arginator.v1.Classifier/Classify";
const std::string kClassifyStream = "/arginator.v1.Classifier/ClassifyStream";

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int c = static_cast<int>(code);
  return c >= 0 && c <= 16 ? kNames[c] : std::to_string(c);
}

void* IgnoredTag() {
  static char tag;
  return &tag;
}

void CallSlot::Record(Tally& tally, const grpc::Status& status, int64_t embeddings) const {
  if (!measured_) return;
  const absl::Time done = absl::Now();
  tally.latencies.Record(absl::ToInt64Nanoseconds(done - intended_));
  ++tally.codes[static_cast<int>(status.error_code())];
  if (status.ok()) {
    tally.embeddings += embeddings;
  } else {
    ++tally.errors[status.error_message()];
  }
  tally.last_done = std::max(tally.last_done, done);
}

UnarySlot::UnarySlot(std::shared_ptr<grpc::Channel> channel, grpc::CompletionQueue* cq,
                     absl::Duration timeout)
    : stub_(std::move(channel)), cq_(cq), timeout_(absl::ToChronoNanoseconds(timeout)) {}

void UnarySlot::Send(const grpc::ByteBuffer& request) {
  context_.emplace();
  context_->set_deadline(std::chrono::system_clock::now() + timeout_);
  call_ = stub_.PrepareUnaryCall(&*context_, kClassify, request, cq_);
  call_->StartCall();
  call_->Finish(&response_, &status_, this);
}

bool UnarySlot::OnEvent(bool /*ok: always true for Finish*/, Tally& tally) {
  Record(tally, status_, response_.predictions_size());
  call_.reset();
  return true;
}

StreamSlot::StreamSlot(std::shared_ptr<grpc::Channel> channel, grpc::CompletionQueue* cq,
                       absl::Time deadline)
    : stub_(std::move(channel)), cq_(cq), deadline_(deadline) {}

void StreamSlot::Send(const grpc::ByteBuffer& request) {
  request_ = &request;
  if (stream_) {
    step_ = Step::kWrite;
    stream_->Write(*request_, this);
    return;
  }
  context_.emplace();
  if (deadline_ != absl::InfiniteFuture()) context_->set_deadline(absl::ToChronoTime(deadline_));
  stream_ = stub_.PrepareCall(&*context_, kClassifyStream, cq_);
  step_ = Step::kOpen;
  stream_->StartCall(this);
}

bool StreamSlot::OnEvent(bool ok, Tally& tally) {
  if (!ok && step_ != Step::kFinish) {
    Finish();
    return false;
  }
  switch (step_) {
    case Step::kOpen:
      step_ = Step::kWrite;
      stream_->Write(*request_, this);
      return false;
    case Step::kWrite:
      step_ = Step::kRead;
      stream_->Read(&response_, this);
      return false;
    case Step::kRead:
      if (response_.error_code() != 0) {
        Record(tally,
               grpc::Status(static_cast<grpc::StatusCode>(response_.error_code()),
                            response_.error_message()),
               0);
      } else {
        Record(tally, grpc::Status::OK, response_.response().predictions_size());
      }
      return true;
    case Step::kFinish:
      // The stream broke under this request: its status is the request's (never OK, since the
      // operation before failed).
      Record(tally,
             status_.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended early")
                          : status_,
             0);
      Reset();
      return true;
  }
  return true;
}

void StreamSlot::Finish() {
  step_ = Step::kFinish;
  stream_->Finish(&status_, this);
}

void StreamSlot::Close() {
  if (!stream_) return;
  stream_->WritesDone(IgnoredTag());
  stream_->Finish(&status_, IgnoredTag());
}

void StreamSlot::Reset() {
  stream_.reset();
  context_.reset();
}

}  // namespace arginator::client
