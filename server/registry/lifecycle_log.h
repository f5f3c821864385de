#pragma once

#include "server/registry/registry_observer.h"

namespace arginator::server {

// Writes the model lifecycle to the server's log (ServerLog): loads with their time, failures
// with the reason, swaps, unloads.
class LifecycleLog : public RegistryObserver {
 public:
  void OnLoaded(const std::string& name, int64_t version, absl::Duration took) override;
  void OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                    absl::Duration took) override;
  void OnUnloaded(const std::string& name, int64_t version) override;
  void OnFailedWhileServing(const std::string& name, int64_t version,
                            const absl::Status& why) override;
  void OnServing(const std::string& name, int64_t version, int64_t previous) override;
};

}  // namespace arginator::server
