#pragma once

#include <cstddef>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "arginator/v1/classifier.pb.h"
#include "common/mutex.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/serving/serving_path.h"
#include "server/v1/v1_request.h"

namespace arginator::server {

class ClassifyCallPool;

// A ClassifyRequest on the serving path: decodes its rows and encodes the answer into a
// ClassifyResponse. The unary call (below) and each stream message (classify_stream.h)
// say how a finished request leaves.
class ClassifyServingCall : public ServingCall {
 protected:
  // Serves `request` into `response`; both stay alive until Finish.
  void Serve(ServingPath* path, RequestMethod method, const v1::ClassifyRequest& request,
             absl::Time deadline, v1::ClassifyResponse* response);

 private:
  absl::Status DecodeRows(const ModelCard& card, RequestRows& rows) override;
  std::string RowName(int64_t i) const override;
  absl::Status Encode(const ServingAnswer& answer) override;

  const v1::ClassifyRequest* request_ = nullptr;
  v1::ClassifyResponse* response_ = nullptr;
};

// One unary Classify call: its request and response messages, parsed from and serialized into
// gRPC's raw bytes here, made once and reused from call to call through ClassifyCallPool.
// Messages are reused by Clear(), which keeps the capacity of their strings and repeated fields;
// an arena (protobuf 3.21) would hold the message objects but not the bytes of packed_values,
// which would still be allocated per call.
class ClassifyCall final : public ClassifyServingCall {
 public:
  explicit ClassifyCall(ClassifyCallPool* pool) : pool_(pool) {}

  // Parses `in` and serves it on `path`; the answer is serialized into `out`, `reactor` finished
  // and the call returned to its pool. A request that does not parse is INVALID_ARGUMENT.
  void Start(ServingPath* path, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
             absl::Time deadline, grpc::ServerUnaryReactor* reactor);

  // Clears the messages; drops their storage when the last request was large.
  void Recycle();

 private:
  void Finish(const absl::Status& status) override;

  ClassifyCallPool* const pool_;
  v1::ClassifyRequest request_;
  v1::ClassifyResponse response_;
  grpc::ByteBuffer* out_ = nullptr;
  grpc::ServerUnaryReactor* reactor_ = nullptr;
};

// The idle Classify calls. Thread-safe.
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
  Mutex mu_;
  std::vector<ClassifyCall*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server
