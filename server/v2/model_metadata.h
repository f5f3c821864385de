#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/serving/serving_path.h"
#include "server/serving/serving_status.h"
#include "server/v2/infer_tensors.h"

namespace arginator::server {

// A model's v2 metadata, for the gRPC ModelMetadata RPC and GET /v2/models/{name}.
struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;  // the ready versions, ascending
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};

// The metadata of `name` at `version` ("" = the default version), selected by the serving
// path's rules: NOT_FOUND or UNAVAILABLE when there is no such ready version, INVALID_ARGUMENT
// for a bad name or version string.
absl::StatusOr<ModelMetadata> GetModelMetadata(const ServingPath& path, const std::string& name,
                                               const std::string& version);

// Whether `name` (at `version`, "" = any) has a ready version and the server is not draining,
// for ModelReady and GET .../ready: INVALID_ARGUMENT for a bad name or version string.
absl::StatusOr<bool> ModelIsReady(const ServingStatus& status, const std::string& name,
                                  const std::string& version);

// The server's name and version for ServerMetadata and GET /v2.
inline constexpr char kServerName[] = "arginator";
const char* ServerVersion();

}  // namespace arginator::server
