#include "server/v2/model_metadata.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace arginator::server {

absl::StatusOr<ModelMetadata> GetModelMetadata(const ServingPath& path, const std::string& name,
                                               const std::string& version) {
  ModelRef model;
  model.name = name;
  model.version = version;
  ARG_ASSIGN_OR_RETURN(ServableHandle handle, path.Select(model));
  ModelMetadata m;
  m.name = handle->card.name;
  m.inputs = InputMetadata(handle->card);
  m.outputs = OutputMetadata(handle->card);
  for (const ModelView& view : path.registry()->Snapshot()) {
    if (view.name != name) continue;
    for (const VersionView& v : view.versions) {
      if (v.state == VersionState::kReady) m.versions.push_back(absl::StrCat(v.version));
    }
  }
  return m;
}

absl::StatusOr<bool> ModelIsReady(const ServingStatus& status, const std::string& name,
                                  const std::string& version) {
  ModelRef model;
  model.name = name;
  model.version = version;
  ARG_ASSIGN_OR_RETURN(VersionSelector selector, ParseModelRef(model));
  return status.ModelReady(name, selector);
}

const char* ServerVersion() { return ARGINATOR_VERSION; }

}  // namespace arginator::server
