#include "server/service/classify_call_pool.h"

#include "common/embedding_matrix.h"
#include "common/status_code_names.h"
#include "server/service/grpc_edge.h"
#include "server/service/request_parser.h"

namespace arginator::server {

ClassifyCall::ClassifyCall(ClassifyCallPool* pool) : pool_(pool) {
  set_request(&request_);
  set_response(&response_);
}

void ClassifyCall::Run(const ClassifyEnv& env, absl::Time deadline,
                       grpc::ServerUnaryReactor* reactor) {
  reactor_ = reactor;
  if (!request_.parsed) {
    env.metrics->RecordRequest(kUnknownModelLabel, 0, RequestMethod::kClassify,
                               StatusCodeName(absl::StatusCode::kInvalidArgument), 0);
    return Finish(UnparseableClassifyRequest());
  }
  Start(env, RequestMethod::kClassify, request_.message, deadline, &response_);
}

void ClassifyCall::Finish(const absl::Status& status) { reactor_->Finish(ToGrpcStatus(status)); }

void ClassifyCall::Release() { pool_->Return(this); }

void ClassifyCall::Recycle() {
  reactor_ = nullptr;
  request_.parsed = false;
  // The last computed request, or a large one refused before it was parsed: either way its
  // storage would stay with this pooled call.
  constexpr int64_t kMax = ClassifyCallPool::kMaxRetainedRows;
  if (last_rows() > kMax || request_.message.embeddings_size() > kMax ||
      request_.message.packed_values().size() >
          static_cast<size_t>(kMax) * kEmbeddingDim * sizeof(float)) {
    v1::ClassifyRequest().Swap(&request_.message);  // the temporary takes the large storage away
    v1::ClassifyResponse().Swap(&response_);
    ReleaseBuffers();
    return;
  }
  request_.message.Clear();
  response_.Clear();
}

ClassifyCallPool::~ClassifyCallPool() {
  MutexLock lock(&mu_);
  for (ClassifyCall* call : idle_) delete call;
}

grpc::MessageHolder<ReceivedClassifyRequest, v1::ClassifyResponse>*
ClassifyCallPool::AllocateMessages() {
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
