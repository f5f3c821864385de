#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "grpcpp/support/message_allocator.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/service/classify_job.h"

namespace arginator::server {

class ClassifyCallPool;

// A Classify request as gRPC's handler receives it: the message, and whether its bytes parsed.
// Its SerializationTraits (below) never fail, so a message that does not parse (malformed, or a
// string field that is not UTF-8) reaches the handler, which answers INVALID_ARGUMENT saying so
// and counts it; with v1::ClassifyRequest itself, gRPC's typed handler would answer UNIMPLEMENTED
// with an empty message and the service would never know. The parse is gRPC's own.
struct ReceivedClassifyRequest {
  v1::ClassifyRequest message;
  bool parsed = false;
};

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
  std::mutex mu_;
  std::vector<ClassifyCall*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server

namespace grpc {

// Parses a Classify request the way gRPC's own protobuf traits do, but reports a failure in the
// message instead of failing the call (see ReceivedClassifyRequest).
template <>
class SerializationTraits<arginator::server::ReceivedClassifyRequest, void> {
 public:
  static Status Deserialize(ByteBuffer* buffer, arginator::server::ReceivedClassifyRequest* msg) {
    {
      ProtoBufferReader reader(buffer);
      msg->parsed = reader.status().ok() && msg->message.ParseFromZeroCopyStream(&reader);
    }
    buffer->Clear();
    return Status::OK;
  }
  static Status Serialize(const arginator::server::ReceivedClassifyRequest&, ByteBuffer*, bool*) {
    return Status(StatusCode::INTERNAL, "a received Classify request is never sent");
  }
};

}  // namespace grpc
