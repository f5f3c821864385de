#include "server/app/arginator_server.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "server/app/drain.h"
#include "server/app/grpc_transport.h"
#include "server/component_options.h"
#include "server/model/faiss_reference_search.h"
#include "server/model/torchscript_model.h"
#include "server/server_log.h"
#include "server/serving/edge_limits.h"

namespace arginator::server {
namespace {

constexpr char kClassifierService[] = "arginator.v1.Classifier";
constexpr char kInferenceService[] = "inference.GRPCInferenceService";
// Rows of shadowed requests waiting or running at once; beyond it shadows are dropped (counted),
// so a slow shadow version never grows the server's memory.
constexpr int64_t kShadowMaxPendingRows = 8192;

ServingPath::Options PathOptions(const ServerConfig& c) {
  ServingPath::Options o;
  o.max_embeddings_per_request = c.max_embeddings_per_request;
  return o;
}

ClassifierService::Options ClassifierOptions(const ServerConfig& c) {
  ClassifierService::Options o;
  o.stream_max_in_flight = c.stream_max_in_flight;
  return o;
}

RestInferenceServer::Options RestOptions(const ServerConfig& c) {
  RestInferenceServer::Options o;
  o.limits = c.rest_http;
  o.json = c.rest_json;
  o.request_timeout = c.rest_request_timeout;
  o.tls_cert = c.tls_cert;
  o.tls_key = c.tls_key;
  o.tls_client_ca = c.tls_client_ca;
  return o;
}

}  // namespace

ArginatorServer::ArginatorServer(const ServerConfig& config)
    : config_(config),
      audit_(config.admin_audit_log,
             [this](const std::string& action, const std::string& code) {
               metrics_.RecordAdminAction(action, code);
             }),
      status_(&registry_, [this] { return RequiredModels(); }),
      health_(&status_, {kClassifierService, kInferenceService},
              [this] { return watcher_.models(); }),
      observers_({&metrics_, &lifecycle_log_, &health_}),
      loader_(
          VersionLoaderOptions(config),
          [device = config.device](const std::string& path, const ModelCard& card) {
            TorchScriptOptions options;
            options.device = device;
            options.quantized_engine = QuantizedEngine(card);
            return LoadTorchScriptModel(path, card.input_dim, options);
          },
          [this](const std::string& name, int64_t version, const std::vector<std::string>& labels) {
            return metrics_.ForVersion(name, version, labels);
          },
          OpenFaissReferenceSearch),
      registry_(RegistryOptions(config), &loader_, &observers_),
      shadow_(&metrics_, kShadowMaxPendingRows),
      path_(&registry_, &metrics_, PathOptions(config), &shadow_),
      classifier_(&path_, ClassifierOptions(config)),
      watcher_(
          config.repository, config.poll_interval, &registry_, [this] { health_.Update(); },
          &audit_),
      inference_(&path_, &status_),
      metrics_http_([this] { return metrics_.Render(); }, [this] { return status_.Ready(); },
                    config.metrics_http),
      rest_(&path_, &status_, RestOptions(config)) {
  if (config.admin_enabled) {
    admin_ = std::make_unique<AdminService>(&registry_, &watcher_, config.admin_tokens, &audit_,
                                            &shadow_);
  }
}

ArginatorServer::~ArginatorServer() = default;

std::vector<std::string> ArginatorServer::RequiredModels() const {
  if (!config_.required_models.empty()) return config_.required_models;
  const std::set<std::string> found = watcher_.models();
  return {found.begin(), found.end()};
}

absl::StatusOr<std::unique_ptr<ArginatorServer>> ArginatorServer::Start(
    const ServerConfig& config) {
  SetEdgeLimits({static_cast<size_t>(config.max_name_bytes),
                 static_cast<size_t>(config.max_status_message_bytes)});
  const BlasInfo blas = SetTorchThreads(config.intra_op_threads);
  const std::string quantized_engine = ConfigureQuantizedEngine();
  std::unique_ptr<ArginatorServer> server(new ArginatorServer(config));
  if (absl::Status s = server->audit_.Open(); !s.ok()) return s;
  std::vector<grpc::Service*> services = {&server->classifier_, &server->inference_};
  if (server->admin_) services.push_back(server->admin_.get());
  int port = 0;
  absl::StatusOr<std::unique_ptr<grpc::Server>> grpc = StartGrpcServer(config, services, &port);
  if (!grpc.ok()) return grpc.status();
  server->grpc_ = *std::move(grpc);
  server->health_.Attach(server->grpc_->GetHealthCheckService());
  ServerLog(absl::StrCat("listening on ", config.host, ":", port, " (",
                         TransportSecurityName(config), ", device ", config.device, ", ",
                         config.intra_op_threads, " intra-op thread(s)", blas.LogSuffix(), ", ",
                         quantized_engine, ", repository ", config.repository, ")"));
  if (absl::Status s = server->StartServing(); !s.ok()) return s;
  return server;
}

absl::Status ArginatorServer::StartServing() {
  if (config_.metrics_port >= 0) {
    if (absl::Status s = metrics_http_.Start(config_.host, config_.metrics_port); !s.ok()) {
      return s;
    }
    ServerLog(
        absl::StrCat("metrics on http://", config_.host, ":", metrics_http_.port(), "/metrics"));
  }
  if (config_.rest_port >= 0) {
    if (absl::Status s = rest_.Start(config_.host, config_.rest_port); !s.ok()) return s;
    ServerLog(absl::StrCat("REST (Open Inference Protocol v2) on ",
                           config_.tls_cert.empty() ? "http" : "https", "://", config_.host, ":",
                           rest_.port()));
  }
  watcher_.PollOnce();
  // The config's default labels are a release setting too: the audit trail says which applied
  // from this start on (a model's release.json default_label, set by the API, overrides it).
  for (const auto& [model, label] : config_.default_labels) {
    AuditEntry entry;
    entry.action = "config_default_label";
    entry.model = model;
    entry.identity = "config";
    entry.message = absl::StrCat("models.default_labels: default requests of ", model, " follow '",
                                 label, "' unless its release.json names another");
    entry.labels_before = entry.labels_after = registry_.Labels(model);
    entry.release_before = entry.release_after = registry_.Release(model);
    audit_.Record(entry);
  }
  registry_.AwaitLoads();  // what the repository holds at startup is loaded before SERVING
  watcher_.Start();
  ServerLog(Ready() ? "SERVING" : "NOT_SERVING: waiting for models in the repository");
  return absl::OkStatus();
}

int ArginatorServer::Drain(const std::string& reason) {
  ServerLog(absl::StrCat(
      reason, ": NOT_SERVING, draining for up to ", absl::FormatDuration(config_.grace_period),
      config_.drain_delay > absl::ZeroDuration()
          ? absl::StrCat(" after serving gRPC ", absl::FormatDuration(config_.drain_delay),
                         " more for balancers to notice")
          : ""));
  DrainSteps steps;
  steps.stop_readiness = [this] { health_.Drain(); };
  steps.cancel_loads = [this] { loader_.Stop(); };
  steps.end_streams = [this] { classifier_.DrainStreams(); };
  steps.shutdown_grpc = [this](absl::Time deadline) {
    grpc_->Shutdown(absl::ToChronoTime(deadline));
  };
  steps.stop_rest = [this] { rest_.Stop(); };
  steps.stop_watcher = [this] { watcher_.Stop(); };
  steps.unload_models = [this] { registry_.Clear(); };
  steps.stop_metrics = [this] { metrics_http_.Stop(); };
  RunDrain(steps, config_.grace_period, Clock::Real(), config_.drain_delay);
  const int abandoned = loader_.abandoned();
  ServerLog(abandoned > 0
                ? absl::StrCat("stopped, leaving ", abandoned, " abandoned load(s) behind")
                : std::string("stopped"));
  return abandoned;
}

}  // namespace arginator::server
