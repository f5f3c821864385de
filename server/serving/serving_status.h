#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "server/registry/model_registry.h"

namespace arginator::server {

// Whether the server and each of its models can serve: the one answer behind grpc.health.v1,
// the v2 ServerReady/ModelReady RPCs, the v2 REST health endpoints and /healthz, so every
// protocol agrees at every point of the lifecycle (loading, serving, draining).
// Thread-safe; the registry and the required-models function outlive it.
class ServingStatus {
 public:
  // `required_models` names the models readiness waits for (the config's, or every model the
  // repository has).
  ServingStatus(const ModelRegistry* registry,
                std::function<std::vector<std::string>()> required_models)
      : registry_(registry), required_models_(std::move(required_models)) {}

  // The process answers (draining included): liveness.
  bool Live() const { return true; }
  // Every required model has a ready version and the server is not draining.
  bool Ready() const {
    if (draining_) return false;
    const std::vector<std::string> required = required_models_();
    return !required.empty() && registry_->AllReady(required);
  }
  // `name` has a ready version (`selector`'s, or the default) and the server is not draining.
  bool ModelReady(const std::string& name, const VersionSelector& selector = {}) const {
    if (draining_) return false;
    if (!selector.version && !selector.label) return registry_->AllReady({name});
    return registry_->Get(name, selector).ok();
  }

  // SIGTERM: from now on nothing is ready (the process stays live while it drains).
  void StartDraining() { draining_ = true; }
  bool draining() const { return draining_; }

 private:
  const ModelRegistry* const registry_;
  const std::function<std::vector<std::string>()> required_models_;
  std::atomic<bool> draining_{false};
};

}  // namespace arginator::server
