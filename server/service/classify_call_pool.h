#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/server_context.h"
#include "server/service/classify_job.h"

namespace arginator::server {

class ClassifyCallPool;

// One unary Classify call: its request and response messages and its ClassifyJob, made once and
// reused from call to call. The method is registered in its raw (bytes) form, so the call parses
// the request itself: a message that does not parse (malformed, or a string field that is not
// UTF-8) is INVALID_ARGUMENT saying so, and counted, where gRPC's typed handler would answer
// UNIMPLEMENTED with an empty message and count nothing. The parse and the serialization of the
// response are gRPC's own (ProtoBufferReader, SerializationTraits), so the cost is the same.
// Messages are reused by Clear(), which keeps the capacity of their strings and repeated fields;
// an arena (protobuf 3.21) would hold the message objects but not the bytes of packed_values.
class ClassifyCall final : public ClassifyJob {
 public:
  explicit ClassifyCall(ClassifyCallPool* pool);

  // Parses `request` and starts the job, which serializes its response into `response` and
  // finishes `reactor`; the call then goes back to its pool.
  void Run(const ClassifyEnv& env, absl::Time deadline, const grpc::ByteBuffer* request,
           grpc::ByteBuffer* response, grpc::ServerUnaryReactor* reactor);
  // Clears the messages; drops their storage when the last request was large.
  void Recycle();

 private:
  void Finish(const absl::Status& status) override;

  ClassifyCallPool* const pool_;
  v1::ClassifyRequest request_;
  v1::ClassifyResponse response_;
  grpc::ByteBuffer* response_bytes_ = nullptr;
  grpc::ServerUnaryReactor* reactor_ = nullptr;
};

// The pool of idle calls. Thread-safe.
class ClassifyCallPool {
 public:
  ClassifyCallPool() = default;
  ClassifyCallPool(const ClassifyCallPool&) = delete;
  ClassifyCallPool& operator=(const ClassifyCallPool&) = delete;
  ~ClassifyCallPool();

  ClassifyCall* Take();
  void Return(ClassifyCall* call);

  // Calls above this many rows give their buffers back instead of keeping them for the next.
  static constexpr int64_t kMaxRetainedRows = 64;
  // Idle calls kept; more are deleted (bounds the pool after a burst).
  static constexpr size_t kMaxIdle = 1024;

 private:
  std::mutex mu_;
  std::vector<ClassifyCall*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server
