#pragma once

#include <cstddef>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "common/mutex.h"
#include "grpcpp/support/message_allocator.h"
#include "server/service/classify_job.h"
#include "server/service/received_request.h"

namespace arginator::server {

class ClassifyCallPool;

// One unary Classify call: its request and response messages and its ClassifyJob, made once and
// reused from call to call (ClassifyCallPool is gRPC's message allocator for the method).
// Messages are reused by Clear(), which keeps the capacity of their strings and repeated fields;
// an arena (protobuf 3.21) would hold the message objects but not the bytes of packed_values,
// which would still be allocated per call.
class ClassifyCall final
    : public grpc::MessageHolder<ReceivedClassifyRequest, v1::ClassifyResponse>,
      public ClassifyJob {
 public:
  explicit ClassifyCall(ClassifyCallPool* pool);

  // Starts the call's job on its (already received) request; the job finishes `reactor`.
  void Run(const ClassifyEnv& env, absl::Time deadline, grpc::ServerUnaryReactor* reactor);
  // gRPC is done with the messages: clears them and returns the call to its pool.
  void Release() override;
  // Clears the messages; drops their storage when the last request was large.
  void Recycle();

 private:
  void Finish(const absl::Status& status) override;

  ClassifyCallPool* const pool_;
  ReceivedClassifyRequest request_;
  v1::ClassifyResponse response_;
  grpc::ServerUnaryReactor* reactor_ = nullptr;
};

// gRPC's message allocator for Classify, and the pool of idle calls behind it. Thread-safe; must
// outlive the grpc::Server (every call is released before the server's destructor returns).
class ClassifyCallPool
    : public grpc::MessageAllocator<ReceivedClassifyRequest, v1::ClassifyResponse> {
 public:
  ClassifyCallPool() = default;
  ClassifyCallPool(const ClassifyCallPool&) = delete;
  ClassifyCallPool& operator=(const ClassifyCallPool&) = delete;
  ~ClassifyCallPool() override;

  grpc::MessageHolder<ReceivedClassifyRequest, v1::ClassifyResponse>* AllocateMessages() override;
  void Return(ClassifyCall* call);

  // Calls above this many rows give their buffers back instead of keeping them for the next.
  static constexpr int64_t kMaxRetainedRows = 64;
  // Idle calls kept; more are deleted (bounds the pool after a burst).
  static constexpr size_t kMaxIdle = 1024;

 private:
  Mutex mu_;
  std::vector<ClassifyCall*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server
