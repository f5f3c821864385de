#include "server/app/health_reporter.h"

#include <grpcpp/health_check_service_interface.h>

namespace arginator::server {

HealthReporter::HealthReporter(ServingStatus* status, std::vector<std::string> services,
                               std::function<std::set<std::string>()> models)
    : status_(status), services_(std::move(services)), models_(std::move(models)) {}

void HealthReporter::Attach(grpc::HealthCheckServiceInterface* health) {
  MutexLock lock(&mu_);
  health_ = health;
  health_->SetServingStatus(false);
  for (const std::string& service : services_) health_->SetServingStatus(service, false);
  health_->SetServingStatus(kLivenessService, true);
}

void HealthReporter::Update() {
  MutexLock lock(&mu_);
  if (!health_ || status_->draining()) return;
  const bool ready = status_->Ready();
  // By name: SetServingStatus(bool) would set every service, liveness included.
  health_->SetServingStatus("", ready);
  for (const std::string& service : services_) health_->SetServingStatus(service, ready);
  for (const std::string& model : models_()) {
    health_->SetServingStatus(model, status_->ModelReady(model));
  }
}

void HealthReporter::Drain() {
  MutexLock lock(&mu_);
  status_->StartDraining();
  if (!health_) return;
  health_->SetServingStatus(false);  // every service, models included
  health_->SetServingStatus(kLivenessService, true);
}

}  // namespace arginator::server
