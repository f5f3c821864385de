#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/registry/model_registry.h"
#include "server/service/infer_tensors.h"

namespace arginator::server {

// A model's v2 metadata, for the gRPC ModelMetadata RPC and GET /v2/models/{name}.
struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;  // the ready versions, ascending
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};

// The metadata of `name` at `version` ("" = the default version): NOT_FOUND or UNAVAILABLE from
// the registry when there is no such ready version, INVALID_ARGUMENT for a bad version string.
absl::StatusOr<ModelMetadata> GetModelMetadata(const ModelRegistry& registry,
                                               const std::string& name, const std::string& version);

// The server's name and version for ServerMetadata and GET /v2.
inline constexpr char kServerName[] = "arginator";
const char* ServerVersion();

}  // namespace arginator::server
