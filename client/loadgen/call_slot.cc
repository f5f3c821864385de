#include "client/loadgen/call_slot.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_code_names.h"

namespace arginator::client {
namespace {

const std::string kClassify = "/arginator.v1.Classifier/Classify";
const std::string kClassifyStream = "/arginator.v1.Classifier/ClassifyStream";

}  // namespace

std::string GhzErrorString(const grpc::Status& status) {
  return absl::StrCat("rpc error: code = ", GoStatusCodeName(status.error_code()),
                      " desc = ", status.error_message());
}

void* IgnoredTag() {
  static char tag;
  return &tag;
}

void CallSettings::Apply(grpc::ClientContext& context) const {
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
}

void CallSlot::Record(Tally& tally, grpc::Status status, int64_t embeddings) const {
  if (!measured_) return;
  const absl::Time done = absl::Now();
  RecordPolicy& policy = *tally.policy;
  if (done >= policy.cut_at) {
    if (policy.duration_stop == DurationStop::kIgnore) return;
    // The call's deadline was the run's end: it was cut, as ghz's close cuts it.
    if (policy.duration_stop == DurationStop::kClose &&
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      status = grpc::Status(grpc::StatusCode::CANCELLED,
                            "the run ended while the call was in flight (--duration-stop close)");
    }
  }
  if (policy.skip_first.load(std::memory_order_relaxed) > 0 && policy.skip_first.fetch_sub(1) > 0) {
    return;
  }
  const int64_t latency = absl::ToInt64Nanoseconds(done - intended_);
  ++tally.count;
  tally.latency_sum_ns += latency;
  if (status.ok() || policy.count_errors) tally.latencies.Record(latency);
  ++tally.codes[static_cast<int>(status.error_code())];
  std::string error;
  if (status.ok()) {
    tally.embeddings += embeddings;
  } else {
    error = GhzErrorString(status);
    ++tally.errors[error];
  }
  if (policy.detail_rows.load(std::memory_order_relaxed) > 0 &&
      policy.detail_rows.fetch_sub(1) > 0) {
    tally.details.push_back({done, latency, status.error_code(), std::move(error)});
  }
  tally.last_done = std::max(tally.last_done, done);
}

UnarySlot::UnarySlot(std::shared_ptr<grpc::Channel> channel, grpc::CompletionQueue* cq,
                     const CallSettings& settings)
    : stub_(std::move(channel)), cq_(cq), settings_(settings) {}

void UnarySlot::Send(const grpc::ByteBuffer& request) {
  context_.emplace();
  settings_.Apply(*context_);
  absl::Time deadline = settings_.cut_at;
  if (settings_.timeout > absl::ZeroDuration()) {
    deadline = std::min(deadline, absl::Now() + settings_.timeout);
  }
  if (deadline != absl::InfiniteFuture()) context_->set_deadline(absl::ToChronoTime(deadline));
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
                       const CallSettings& settings, absl::Time deadline)
    : stub_(std::move(channel)), cq_(cq), settings_(settings), deadline_(deadline) {}

void StreamSlot::Send(const grpc::ByteBuffer& request) {
  request_ = &request;
  if (stream_) {
    step_ = Step::kWrite;
    stream_->Write(*request_, this);
    return;
  }
  context_.emplace();
  settings_.Apply(*context_);
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
      reopened_ = false;
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
      if (settings_.reopen_streams && !reopened_ &&
          status_.error_code() == grpc::StatusCode::UNAVAILABLE) {
        reopened_ = true;
        Reset();
        Send(*request_);
        return false;
      }
      reopened_ = false;
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
