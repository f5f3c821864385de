#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/loadgen/load_generator.h"

namespace arginator::client {

// The ClassifyRequests a run sends, each serialized once: `options.messages`, or else a few
// distinct payloads (so nothing can cache one), each `options.batch` rows of `options.input` (or
// synthetic ProtT5-like rows), in the repeated-float or packed form. Sending a ByteBuffer again
// only takes references to its slices, so the generator's CPU goes to the transport, not to
// re-encoding identical messages (which, on a machine shared with the server, would be taken from
// the server).
absl::StatusOr<std::vector<grpc::ByteBuffer>> EncodeRequests(const LoadOptions& options);

// ghz's -d/-D: a ClassifyRequest in protobuf's JSON mapping, or a JSON array of them (sent round
// robin). Returns them serialized; a message that does not parse is named by its index.
absl::StatusOr<std::vector<std::string>> MessagesFromJson(std::string_view json);

// ghz's -b/-B: one serialized ClassifyRequest, or several, each prefixed by its length as a
// varint (protobuf's delimited form), which is tried first.
absl::StatusOr<std::vector<std::string>> MessagesFromBinary(std::string_view bytes);

// Writes the first request of EncodeRequests(options) to `path` as one gRPC length-prefixed
// message (a 0 byte for "uncompressed", the length as 4 big-endian bytes, the serialized
// ClassifyRequest): the body h2load's -d sends, so it loads the server with exactly our payload.
absl::Status WriteRequestFrame(const LoadOptions& options, const std::string& path);

}  // namespace arginator::client
