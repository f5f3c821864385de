#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/registry/version_policy.h"

namespace arginator::server {

// What happens to model versions, for metrics (ServerMetrics), the log (LifecycleLog) and health
// (HealthReporter). Called without registry locks held, on the thread that made it happen (the
// load pool, the reclaimer, a request's thread for OnFailedWhileServing).
class RegistryObserver {
 public:
  virtual ~RegistryObserver() = default;
  virtual void OnLoaded(const std::string& name, int64_t version, absl::Duration took) {}
  virtual void OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                            absl::Duration took) {}
  virtual void OnUnloaded(const std::string& name, int64_t version) {}
  // A ready version was taken out of service: a forward broke its output contract.
  virtual void OnFailedWhileServing(const std::string& name, int64_t version,
                                    const absl::Status& why) {}
  virtual void OnStates(const std::string& name, const std::map<int64_t, VersionState>& states) {}
  // The version a request without version or label gets changed (previous 0: first one).
  virtual void OnServing(const std::string& name, int64_t version, int64_t previous) {}
};

// Several observers as one, in order.
class RegistryObserverList : public RegistryObserver {
 public:
  explicit RegistryObserverList(std::vector<RegistryObserver*> observers)
      : observers_(std::move(observers)) {}

  void OnLoaded(const std::string& name, int64_t version, absl::Duration took) override {
    for (RegistryObserver* o : observers_) o->OnLoaded(name, version, took);
  }
  void OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                    absl::Duration took) override {
    for (RegistryObserver* o : observers_) o->OnLoadFailed(name, version, why, took);
  }
  void OnUnloaded(const std::string& name, int64_t version) override {
    for (RegistryObserver* o : observers_) o->OnUnloaded(name, version);
  }
  void OnFailedWhileServing(const std::string& name, int64_t version,
                            const absl::Status& why) override {
    for (RegistryObserver* o : observers_) o->OnFailedWhileServing(name, version, why);
  }
  void OnStates(const std::string& name, const std::map<int64_t, VersionState>& states) override {
    for (RegistryObserver* o : observers_) o->OnStates(name, states);
  }
  void OnServing(const std::string& name, int64_t version, int64_t previous) override {
    for (RegistryObserver* o : observers_) o->OnServing(name, version, previous);
  }

 private:
  const std::vector<RegistryObserver*> observers_;
};

}  // namespace arginator::server
