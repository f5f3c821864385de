#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/impl/serialization_traits.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/server_callback.h"
#include "server/grpc/grpc_edge.h"

namespace arginator::server {

// A message's bytes as gRPC received them, parsed the way gRPC's own protobuf traits parse them.
// False when they do not parse (malformed, or a string field that is not UTF-8).
template <class Message>
bool ParseReceived(const grpc::ByteBuffer& in, Message* message) {
  // The reader only reads (ProtoBufferReader takes a non-const buffer for its C accessor); a
  // copy of the buffer would cost an allocation and a slice-buffer walk per request.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&in));
  return reader.status().ok() && message->ParseFromZeroCopyStream(&reader);
}

// `message` serialized into `out` for gRPC to send.
template <class Message>
grpc::Status SerializeForSending(const Message& message, grpc::ByteBuffer* out) {
  bool own_buffer = false;
  return grpc::SerializationTraits<Message>::Serialize(message, out, &own_buffer);
}

// Finishes a unary call: its response is sent if `status` is OK, then the status.
using UnaryDone = std::function<void(const absl::Status& status)>;

// Serves a unary RPC registered with gRPC's raw callback API (the generated
// WithRawCallbackMethod_*): parses `in` as Request here, so that a request that does not parse
// is INVALID_ARGUMENT naming its type (gRPC's typed callback handler answers UNIMPLEMENTED with
// an empty message, and that is hard-coded in it); then runs `handler(request, &response, done)`,
// which calls `done` exactly once, now or later, from any thread; `done` serializes the response
// into the call's bytes and finishes the call. Request and response live until then.
template <class Request, class Response>
grpc::ServerUnaryReactor* ServeUnary(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
    const std::function<void(const Request&, Response*, UnaryDone)>& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<std::pair<Request, Response>>();
  if (!ParseReceived(*in, &call->first)) {
    reactor->Finish(ToGrpcStatus(UnparseableRequest(Request::descriptor()->full_name())));
    return reactor;
  }
  handler(call->first, &call->second, [reactor, out, call](const absl::Status& status) {
    if (status.ok()) {
      if (grpc::Status s = SerializeForSending(call->second, out); !s.ok()) {
        return reactor->Finish(s);
      }
    }
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

}  // namespace arginator::server
