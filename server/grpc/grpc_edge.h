#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace arginator::server {

// Where the gRPC services (arginator.v1, v2 gRPC, ModelAdmin) meet gRPC's types.

// The one conversion of absl::Status to a gRPC status: codes map one to one; the message is cut
// like every protocol's (CutStatusMessage, server/serving/edge_limits.h).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The error of a request that does not parse as the message type `type` (its full name).
absl::Status UnparseableRequest(const std::string& type);

// A call's deadline as absl::Time (InfiniteFuture when the client set none).
absl::Time DeadlineOf(const grpc::CallbackServerContext* context);

}  // namespace arginator::server
