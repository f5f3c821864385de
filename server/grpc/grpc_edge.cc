#include "server/grpc/grpc_edge.h"

#include "absl/strings/str_cat.h"
#include "server/serving/edge_limits.h"

namespace arginator::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CutStatusMessage(status.message()));
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
