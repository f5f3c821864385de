#pragma once

#include <memory>
#include <string>

#include "common/model_card.h"
#include "server/batching/dynamic_batcher.h"
#include "server/model/model.h"

namespace arginator::server {

// One loaded, validated model version, ready to serve: its card, its model and the batcher in
// front of it. Immutable after load. Requests hold a ServableHandle while in flight; the registry
// destroys a version only once no handle is left (see ModelRegistry::ReapUnloaded).
struct ServableVersion {
  ModelCard card;
  std::string dir;
  std::shared_ptr<Model> model;
  std::unique_ptr<DynamicBatcher> batcher;

  ~ServableVersion() {
    if (batcher) batcher->Stop();
  }
};

using ServableHandle = std::shared_ptr<const ServableVersion>;

// Loads and validates a version directory (injected so registry tests need no LibTorch).
class VersionLoader {
 public:
  virtual ~VersionLoader() = default;
  virtual absl::StatusOr<std::shared_ptr<ServableVersion>> Load(const std::string& name,
                                                                int64_t version,
                                                                const std::string& dir) = 0;
};

}  // namespace arginator::server
