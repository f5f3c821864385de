#include "server/v1/classify_call.h"

#include "common/embedding_matrix.h"
#include "server/grpc/grpc_edge.h"
#include "server/grpc/unary_call.h"

namespace arginator::server {

void ClassifyServingCall::Serve(ServingPath* path, RequestMethod method,
                                const v1::ClassifyRequest& request, absl::Time deadline,
                                v1::ClassifyResponse* response) {
  request_ = &request;
  response_ = response;
  DecodeModelSpec(request.model(), model());
  model().request_id = request.request_id();
  evidence() = request.evidence();
  path->Serve(this, method, deadline);
}

absl::Status ClassifyServingCall::DecodeRows(const ModelCard& card, RequestRows& rows) {
  return DecodeClassifyRows(*request_, card.input_dim, rows);
}

std::string ClassifyServingCall::RowName(int64_t i) const { return ClassifyRowName(*request_, i); }

absl::Status ClassifyServingCall::Encode(const ServingAnswer& answer) {
  EncodeClassifyResponse(*request_, answer, *response_);
  return absl::OkStatus();
}

void ClassifyCall::Start(ServingPath* path, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                         absl::Time deadline, grpc::ServerUnaryReactor* reactor) {
  out_ = out;
  reactor_ = reactor;
  if (!ParseReceived(*in, &request_)) {
    const absl::Status refused = UnparseableClassifyRequest();
    path->Refuse(RequestMethod::kClassify, "", refused);
    return Finish(refused);
  }
  Serve(path, RequestMethod::kClassify, request_, deadline, &response_);
}

void ClassifyCall::Finish(const absl::Status& status) {
  grpc::Status answer = ToGrpcStatus(status);
  if (status.ok()) answer = SerializeForSending(response_, out_);
  grpc::ServerUnaryReactor* reactor = reactor_;
  pool_->Return(this);  // nothing below touches the call
  reactor->Finish(answer);
}

void ClassifyCall::Recycle() {
  out_ = nullptr;
  reactor_ = nullptr;
  // The last computed request, or a large one refused before it was parsed: either way its
  // storage would stay with this pooled call.
  constexpr int64_t kMax = ClassifyCallPool::kMaxRetainedRows;
  if (last_rows() > kMax || request_.embeddings_size() > kMax ||
      request_.packed_values().size() > static_cast<size_t>(kMax) * kEmbeddingDim * sizeof(float)) {
    v1::ClassifyRequest().Swap(&request_);  // the temporary takes the large storage away
    v1::ClassifyResponse().Swap(&response_);
    ReleaseBuffers();
    return;
  }
  request_.Clear();
  response_.Clear();
}

ClassifyCallPool::~ClassifyCallPool() {
  MutexLock lock(&mu_);
  for (ClassifyCall* call : idle_) delete call;
}

ClassifyCall* ClassifyCallPool::Take() {
  {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      ClassifyCall* call = idle_.back();
      idle_.pop_back();
      return call;
    }
  }
  return new ClassifyCall(this);
}

void ClassifyCallPool::Return(ClassifyCall* call) {
  call->Recycle();
  {
    MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(call);
      return;
    }
  }
  delete call;
}

}  // namespace arginator::server
