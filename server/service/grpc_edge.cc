#include "server/service/grpc_edge.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/bounded_json.h"
#include "server/server_config.h"

namespace arginator::server {
namespace {

// Written once, before any request (SetEdgeLimits); until then the config's defaults.
EdgeLimits& EdgeLimitsInForce() {
  static EdgeLimits limits = {static_cast<size_t>(DefaultServerConfig().max_name_bytes),
                              static_cast<size_t>(DefaultServerConfig().max_status_message_bytes)};
  return limits;
}

}  // namespace

void SetEdgeLimits(const EdgeLimits& limits) { EdgeLimitsInForce() = limits; }
const EdgeLimits& GetEdgeLimits() { return EdgeLimitsInForce(); }

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  const size_t max = GetEdgeLimits().max_status_message_bytes;
  if (message.size() > max) {
    const size_t full = message.size();
    message = Utf8Prefix(message, max);
    absl::StrAppend(&message, "... (cut; ", full, " bytes in all)");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

absl::Status UnparseableRequest(const std::string& type) {
  return absl::InvalidArgumentError(
      absl::StrCat("request is not a valid ", type,
                   " (malformed protobuf, or a string field that is not valid UTF-8)"));
}

absl::Time DeadlineOf(const grpc::CallbackServerContext* context) {
  auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace arginator::server
