#pragma once

#include "arginator/v1/classifier.pb.h"
#include "grpcpp/impl/serialization_traits.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace arginator::server {

// A Classify request as gRPC hands it to the service, on Classify and on each message of
// ClassifyStream: the message, and whether its bytes parsed. Its SerializationTraits (below) never
// fail, so a message that does not parse (malformed, or a string field that is not UTF-8) reaches
// the service, which answers INVALID_ARGUMENT saying so and counts it. With v1::ClassifyRequest
// itself, gRPC's unary handler answers UNIMPLEMENTED with an empty message, and its stream reader
// reports the failure exactly like the client's half-close (the stream would end with OK having
// dropped the rest). The parse is gRPC's own.
struct ReceivedClassifyRequest {
  v1::ClassifyRequest message;
  bool parsed = false;
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
