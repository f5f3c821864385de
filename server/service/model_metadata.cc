#include "server/service/model_metadata.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/service/grpc_edge.h"
#include "server/service/request_parser.h"

namespace arginator::server {

absl::StatusOr<ModelMetadata> GetModelMetadata(const ModelRegistry& registry,
                                               const std::string& name,
                                               const std::string& version) {
  if (name.empty()) return absl::InvalidArgumentError("model name is required");
  if (name.size() > GetEdgeLimits().max_name_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model name is ", name.size(), " bytes; at most ", GetEdgeLimits().max_name_bytes));
  }
  ARG_ASSIGN_OR_RETURN(VersionSelector selector, ParseModelVersion(version));
  ARG_ASSIGN_OR_RETURN(ServableHandle handle, registry.Get(name, selector));
  ModelMetadata m;
  m.name = handle->card.name;
  m.inputs = InputMetadata(handle->card);
  m.outputs = OutputMetadata(handle->card);
  for (const ModelView& model : registry.Snapshot()) {
    if (model.name != name) continue;
    for (const VersionView& v : model.versions) {
      if (v.state == VersionState::kReady) m.versions.push_back(absl::StrCat(v.version));
    }
  }
  return m;
}

const char* ServerVersion() { return ARGINATOR_VERSION; }

}  // namespace arginator::server
