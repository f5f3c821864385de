#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace arginator::server {

// Where absl::Status becomes a gRPC status: what the server echoes back to clients, bounded.

// What the server echoes back to clients is bounded (server.max_name_bytes and
// server.max_status_message_bytes). Process-wide: SetEdgeLimits once at startup, before serving;
// until then, the config's defaults.
struct EdgeLimits {
  // A model name or version label longer than this is refused without being repeated (client
  // strings go into errors, logs and metric labels).
  size_t max_name_bytes = 0;
  // Status messages are cut to this many bytes (a long id or list in a message would otherwise
  // exceed the client's metadata limit and turn into RESOURCE_EXHAUSTED).
  size_t max_status_message_bytes = 0;
};
void SetEdgeLimits(const EdgeLimits& limits);
const EdgeLimits& GetEdgeLimits();

// The one conversion of absl::Status to the gRPC edge (codes map one to one; the message is cut
// to max_status_message_bytes, saying how long it was).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The error of a request that does not parse as the message type `type` (its full name).
absl::Status UnparseableRequest(const std::string& type);

// A call's deadline as absl::Time (InfiniteFuture when the client set none).
absl::Time DeadlineOf(const grpc::CallbackServerContext* context);

}  // namespace arginator::server
