#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "server/serving/serving_status.h"

namespace grpc {
class HealthCheckServiceInterface;
}

namespace arginator::server {

// Publishes ServingStatus on gRPC's health service (grpc.health.v1), which Kubernetes' gRPC
// probes and load balancers read:
//   ""  and each of `services`  SERVING while the server is ready (every required model has a
//                               ready version), NOT_SERVING while it waits for models or drains;
//   each model's name           SERVING while that model has a ready version;
//   "liveness"                  SERVING from Attach to exit, draining included, for liveness
//                               probes: a server waiting for its first model must not be
//                               restarted for it.
// Thread-safe: Update runs after every repository poll, Drain once on SIGTERM, and no Update
// after Drain can report SERVING again.
// Also a RegistryObserver: every change of a model's version states updates it at once.
class HealthReporter : public RegistryObserver {
 public:
  static constexpr char kLivenessService[] = "liveness";

  // `models` lists the models to report one by one (the repository's). Both outlive this.
  HealthReporter(ServingStatus* status, std::vector<std::string> services,
                 std::function<std::set<std::string>()> models);

  // Starts reporting on `health` (the built server's): NOT_SERVING until the first Update finds
  // the models ready, liveness SERVING.
  void Attach(grpc::HealthCheckServiceInterface* health);
  // Brings every status up to date; before Attach or once draining, does nothing.
  void Update();
  // Readiness ends for good (ServingStatus too, so the v2 protocol and /healthz agree);
  // liveness stays SERVING.
  void Drain();

  void OnStates(const std::string& name, const std::map<int64_t, VersionState>& states) override {
    Update();
  }

 private:
  ServingStatus* const status_;
  const std::vector<std::string> services_;
  const std::function<std::set<std::string>()> models_;
  Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace arginator::server
