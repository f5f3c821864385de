#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/admin/admin_service.h"
#include "server/app/health_reporter.h"
#include "server/metrics/metrics_http_server.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/audit_log.h"
#include "server/registry/directory_version_loader.h"
#include "server/registry/lifecycle_log.h"
#include "server/registry/model_registry.h"
#include "server/registry/repository_watcher.h"
#include "server/rest/rest_inference_server.h"
#include "server/server_config.h"
#include "server/serving/serving_path.h"
#include "server/serving/serving_status.h"
#include "server/serving/shadow_runner.h"
#include "server/v1/classifier_service.h"
#include "server/v2/inference_service.h"

namespace grpc {
class Server;
}

namespace arginator::server {

// Everything arginator-server runs, built from one ServerConfig: metrics, the version loader
// (TorchScript), the registry and the repository watcher that feeds it, the serving path every
// protocol shares, the protocol adapters on it (arginator.v1 Classifier and Open Inference
// Protocol v2 on one gRPC server, v2 REST on its own port), ModelAdmin when enabled, /metrics and
// health. docs/architecture.md draws it.
class ArginatorServer {
 public:
  // Sets up LibTorch's threads and quantized engine, builds every component, starts the gRPC
  // server, /metrics and REST (unless their port is -1), scans the repository once (loading what
  // the policy wants) and starts the watcher. The log says where it listens and what it runs on.
  static absl::StatusOr<std::unique_ptr<ArginatorServer>> Start(const ServerConfig& config);
  ~ArginatorServer();

  // Whether every required model has a ready version (and no drain began).
  bool Ready() const { return status_.Ready(); }

  // Stops without losing accepted work (DrainSteps), within server.grace_period_s for gRPC;
  // `reason` starts its log line ("received SIGTERM"). Returns how many model loads were abandoned
  // and still run on their threads: then this object must not be destroyed (those threads may use
  // it); the process should _Exit.
  int Drain(const std::string& reason);

 private:
  explicit ArginatorServer(const ServerConfig& config);
  absl::Status StartServing();
  std::vector<std::string> RequiredModels() const;

  // In dependency order: each member is destroyed before those it uses, so the registry's last
  // events (versions reclaimed on its destruction) still reach live observers.
  const ServerConfig config_;
  ServerMetrics metrics_;
  AuditLog audit_;  // admin actions and release changes
  LifecycleLog lifecycle_log_;
  ServingStatus status_;  // reads the registry only when asked, after construction
  HealthReporter health_;
  RegistryObserverList observers_;  // metrics, log, health
  DirectoryVersionLoader loader_;
  ModelRegistry registry_;
  ShadowRunner shadow_;  // holds versions while it runs them: destroyed before the registry
  ServingPath path_;     // the request path the protocol adapters below share
  ClassifierService classifier_;
  RepositoryWatcher watcher_;
  InferenceService inference_;
  std::unique_ptr<AdminService> admin_;  // when admin.enabled
  std::unique_ptr<grpc::Server> grpc_;
  MetricsHttpServer metrics_http_;
  RestInferenceServer rest_;
};

}  // namespace arginator::server
