#include "server/service/classify_call_pool.h"

#include "common/embedding_matrix.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/service/request_parser.h"

namespace arginator::server {

ClassifyCall::ClassifyCall(ClassifyCallPool* pool) : pool_(pool) {}

void ClassifyCall::Run(const ClassifyEnv& env, absl::Time deadline,
                       const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                       grpc::ServerUnaryReactor* reactor) {
  reactor_ = reactor;
  response_bytes_ = response;
  // ByteBuffer's reader takes a non-const buffer but only reads it.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request));
  if (!request_.ParseFromZeroCopyStream(&reader)) {
    env.metrics->RecordRequest(kUnknownModelLabel, 0, MethodName(RequestMethod::kClassify),
                               CodeName(absl::StatusCode::kInvalidArgument), 0);
    return Finish(absl::InvalidArgumentError(kUnparseableRequest));
  }
  Start(env, RequestMethod::kClassify, request_, deadline, &response_);
}

void ClassifyCall::Finish(const absl::Status& status) {
  grpc::Status out = ToGrpcStatus(status);
  if (out.ok()) {
    bool own_buffer = false;
    out = grpc::SerializationTraits<v1::ClassifyResponse>::Serialize(response_, response_bytes_,
                                                                      &own_buffer);
  }
  grpc::ServerUnaryReactor* reactor = reactor_;
  pool_->Return(this);  // nothing of gRPC's is touched after this but the reactor
  reactor->Finish(out);
}

void ClassifyCall::Recycle() {
  reactor_ = nullptr;
  response_bytes_ = nullptr;
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
  std::lock_guard<std::mutex> lock(mu_);
  for (ClassifyCall* call : idle_) delete call;
}

ClassifyCall* ClassifyCallPool::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(call);
      return;
    }
  }
  delete call;
}

}  // namespace arginator::server
