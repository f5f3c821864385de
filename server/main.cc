// arginator-server: wiring only. Builds metrics, loader, registry, watcher and services from the
// config, serves until SIGTERM/SIGINT, then drains.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "common/file_io.h"
#include "common/mutex_mode.h"
#include "server/metrics/metrics_http_server.h"
#include "server/metrics/server_metrics.h"
#include "server/model/torchscript_model.h"
#include "server/registry/model_registry.h"
#include "server/registry/repository_watcher.h"
#include "server/registry/version_labels.h"
#include "server/registry/version_loader.h"
#include "server/server_config.h"
#include "server/service/admin_service.h"
#include "server/service/classifier_service.h"
#include "server/service/inference_service.h"
#include "server/service/protobuf_log.h"
#include "server/service/request_parser.h"
#include "server/service/rest_inference_server.h"
#include "server/service/serving_status.h"

namespace {

using namespace arginator::server;

constexpr char kClassifierService[] = "arginator.v1.Classifier";
constexpr char kInferenceService[] = "inference.GRPCInferenceService";
constexpr char kLivenessService[] = "liveness";

void Log(const std::string& line) { std::cerr << "arginator-server: " << line << std::endl; }

int Fail(const absl::Status& status) {
  Log(absl::StrCat("error: ", status.message()));
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& c) {
  if (c.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = arginator::ReadFileToString(c.tls_cert);
  auto key = arginator::ReadFileToString(c.tls_key);
  if (!cert.ok()) return cert.status();
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      c.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!c.tls_client_ca.empty()) {
    auto ca = arginator::ReadFileToString(c.tls_client_ca);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

}  // namespace

int main(int argc, char** argv) {
  arginator::DisableMutexDeadlockDetection();
  arginator::TuneAllocatorForTensors();
  // A client sending strings that are not UTF-8 makes libprotobuf log a line per message.
  LimitProtobufLog(/*burst=*/10, absl::Minutes(1));
  CLI::App app{"arginator-server: serve beta-lactamase classifiers over gRPC"};
  std::string config_path, repository, device, host;
  int port = -1, metrics_port = -2, rest_port = -2;
  std::vector<std::string> overrides;
  app.add_option("--config", config_path, "YAML config (configs/server.yaml)");
  app.add_option("--model-repository", repository, "model repository (models.repository)");
  app.add_option("--port", port, "gRPC port, 0 = any free port (server.port)");
  app.add_option("--metrics-port", metrics_port, "Prometheus /metrics port, 0 = any, -1 = off");
  app.add_option("--rest-port", rest_port,
                 "v2 (KServe) HTTP/REST port, 0 = any, -1 = off (server.rest_port)");
  app.add_option("--device", device, "cpu, cuda or cuda:N (server.device)");
  app.add_option("--host", host, "address to bind (server.host)");
  app.add_option("--set", overrides,
                 "any config key as key=value, e.g. batching.max_batch_size=128");
  bool print_defaults = false;
  app.add_flag("--print-default-config", print_defaults, "print the built-in defaults and exit");
  bool check_config = false;
  app.add_flag("--check-config", check_config,
               "parse the flags and the config, print the result and exit (0 = valid); a dry run "
               "of a container's command line");
  bool check_device = false;
  app.add_flag("--check-device", check_device,
               "check that the configured device is usable by this build, then exit (0 = yes)");
  CLI11_PARSE(app, argc, argv);
  if (print_defaults) {
    std::cout << DefaultServerConfigYaml();
    return 0;
  }
  if (!repository.empty()) overrides.push_back("models.repository=" + repository);
  if (port >= 0) overrides.push_back(absl::StrCat("server.port=", port));
  if (metrics_port >= -1) overrides.push_back(absl::StrCat("server.metrics_port=", metrics_port));
  if (rest_port >= -1) overrides.push_back(absl::StrCat("server.rest_port=", rest_port));
  if (!device.empty()) overrides.push_back("server.device=" + device);
  if (!host.empty()) overrides.push_back("server.host=" + host);
  absl::StatusOr<ServerConfig> loaded = LoadServerConfig(config_path, overrides);
  if (!loaded.ok()) return Fail(loaded.status());
  const ServerConfig config = *loaded;
  if (check_config) {
    std::cout << "config ok: port " << config.port << ", metrics port " << config.metrics_port
              << ", REST port " << config.rest_port << ", device " << config.device
              << ", repository " << config.repository << "\n";
    return 0;
  }
  SetEdgeLimits({static_cast<size_t>(config.max_name_bytes),
                 static_cast<size_t>(config.max_status_message_bytes)});
  if (absl::Status s = CheckTorchDevice(config.device); !s.ok()) return Fail(s);
  if (check_device) {
    std::cout << "device " << config.device << ": usable\n";
    return 0;
  }
  const arginator::BlasInfo blas = SetTorchThreads(config.intra_op_threads);
  const std::string quantized_engine = ConfigureQuantizedEngine();

  // A peer that hangs up while we write (a REST or metrics client, over TLS too) must cost that
  // write an EPIPE, not the process: cpp-httplib and OpenSSL write without MSG_NOSIGNAL.
  signal(SIGPIPE, SIG_IGN);
  // Signals go to sigwait below, not to whichever thread happens to run.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerMetrics metrics;
  DirectoryVersionLoader loader(
      {config.batching, 3, static_cast<uintmax_t>(config.max_card_bytes),
       static_cast<uintmax_t>(config.max_model_bytes), config.load_timeout, config.repository,
       config.links_outside_repository},
      [&](const std::string& path, const arginator::ModelCard& card) {
        return LoadTorchScriptModel(path, card.input_dim,
                                    {config.device, true, arginator::QuantizedEngine(card)});
      },
      [&](const std::string& name, int64_t version, const std::vector<std::string>& labels) {
        return metrics.ForVersion(name, version, labels);
      });
  ModelRegistry::Options registry_options;
  registry_options.policy = config.policy;
  registry_options.default_labels = config.default_labels;
  registry_options.model_policies = config.model_policies;
  registry_options.retry_backoff = config.retry_backoff;
  registry_options.max_retry_backoff = config.max_retry_backoff;
  if (config.persist_labels) {
    registry_options.persist_labels = [&config](const std::string& name,
                                                const std::map<std::string, int64_t>& labels) {
      return WriteVersionLabels(
          (std::filesystem::path(config.repository) / name / kLabelsFile).string(), labels);
    };
  }
  ModelRegistry registry(registry_options, &loader, &metrics);
  std::unique_ptr<RepositoryWatcher> watcher;
  // A version taken out of service (a forward broke its output contract): the watcher's next
  // poll, at once, brings health up to date.
  ClassifierService classifier(&registry, &metrics,
                               {config.max_embeddings_per_request, config.stream_max_in_flight,
                                [&watcher] { watcher->Wake(); }});

  std::mutex health_mu;
  grpc::HealthCheckServiceInterface* health = nullptr;  // guarded by health_mu
  // The one readiness answer of grpc.health.v1, the v2 protocol (gRPC and REST) and /healthz.
  ServingStatus status(&registry, [&] {
    if (!config.required_models.empty()) return config.required_models;
    std::vector<std::string> names;
    for (const auto& n : watcher->models()) names.push_back(n);
    return names;
  });
  auto serving = [&] { return status.Ready(); };
  auto update_health = [&] {
    std::lock_guard<std::mutex> lock(health_mu);
    if (!health || status.draining()) return;
    const bool ok = status.Ready();
    health->SetServingStatus("", ok);
    health->SetServingStatus(kClassifierService, ok);
    health->SetServingStatus(kInferenceService, ok);
    for (const auto& name : watcher->models()) {
      health->SetServingStatus(name, status.ModelReady(name));
    }
  };
  InferenceService inference(&classifier.env(), &status);
  watcher = std::make_unique<RepositoryWatcher>(config.repository, config.poll_interval, &registry,
                                                update_health);
  std::unique_ptr<AdminService> admin;
  if (config.admin_enabled) {
    admin = std::make_unique<AdminService>(&registry, watcher.get(), config.admin_token);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto credentials = Credentials(config);
  if (!credentials.ok()) return Fail(credentials.status());
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(config.host, ":", config.port), *credentials, &bound_port);
  builder.RegisterService(&classifier);
  builder.RegisterService(&inference);
  if (admin) builder.RegisterService(admin.get());
  builder.SetMaxReceiveMessageSize(256 << 20);  // bulk requests: 4096 x 1024 floats ~ 16 MB+
  builder.SetMaxSendMessageSize(64 << 20);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(config.keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(config.keepalive_timeout_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             static_cast<int>(config.max_connection_age_ms));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             static_cast<int>(config.max_connection_age_grace_ms));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    return Fail(
        absl::UnavailableError(absl::StrCat("cannot listen on ", config.host, ":", config.port)));
  }
  {
    std::lock_guard<std::mutex> lock(health_mu);
    health = server->GetHealthCheckService();
    health->SetServingStatus(false);  // NOT_SERVING until the models are ready
    // For liveness probes: the process answers, whatever the models' state (a server waiting for
    // its first model must not be restarted for it).
    health->SetServingStatus(kLivenessService, true);
  }
  Log(absl::StrCat(
      "listening on ", config.host, ":", bound_port, " (",
      config.tls_cert.empty() ? "plaintext" : (config.tls_client_ca.empty() ? "TLS" : "mutual TLS"),
      ", device ", config.device, ", ", config.intra_op_threads, " intra-op thread(s)",
      blas.LogSuffix(), ", ", quantized_engine, ", repository ", config.repository, ")"));

  MetricsHttpServer metrics_http(
      [&] { return metrics.Render(); }, serving,
      {config.metrics_threads, config.metrics_read_timeout, config.metrics_write_timeout,
       config.metrics_keep_alive_timeout, /*max_request_body_bytes=*/0});
  if (config.metrics_port >= 0) {
    if (absl::Status s = metrics_http.Start(config.host, config.metrics_port); !s.ok()) {
      return Fail(s);
    }
    Log(absl::StrCat("metrics on http://", config.host, ":", metrics_http.port(), "/metrics"));
  }
  RestInferenceServer rest(
      &classifier.env(), &status,
      {{config.rest_threads, config.rest_read_timeout, config.rest_write_timeout,
        config.rest_keep_alive_timeout, static_cast<size_t>(config.rest_max_request_bytes)},
       config.tls_cert,
       config.tls_key,
       config.tls_client_ca});
  if (config.rest_port >= 0) {
    if (absl::Status s = rest.Start(config.host, config.rest_port); !s.ok()) return Fail(s);
    Log(absl::StrCat("REST (Open Inference Protocol v2) on ",
                     config.tls_cert.empty() ? "http" : "https", "://", config.host, ":",
                     rest.port()));
  }
  watcher->PollOnce();
  watcher->Start();
  Log(serving() ? "SERVING" : "NOT_SERVING: waiting for models in the repository");

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(absl::StrCat("received ", signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
                   ": NOT_SERVING, draining for up to ",
                   absl::FormatDuration(config.grace_period)));
  {
    std::lock_guard<std::mutex> lock(health_mu);
    status.StartDraining();
    health->SetServingStatus(false);
    health->SetServingStatus(kLivenessService, true);  // draining is alive, not dead
  }
  loader.Stop();  // a load in progress (an admin call may wait on it) ends now, not at its timeout
  // Open streams answer what they have read and end (UNAVAILABLE) instead of holding the whole
  // grace period and then losing their in-flight messages to its cancellation.
  classifier.DrainStreams();
  // Stops accepting calls, lets in-flight ones finish until the deadline, then cancels the rest.
  server->Shutdown(absl::ToChronoTime(absl::Now() + config.grace_period));
  rest.Stop();  // new REST inference got 503 since the drain began; this waits for the rest
  watcher->Stop();
  registry.Clear();
  metrics_http.Stop();
  if (const int abandoned = loader.abandoned(); abandoned > 0) {
    // Their threads still run and may use anything; destructors must not run under them.
    Log(absl::StrCat("stopped, leaving ", abandoned, " abandoned load(s) behind"));
    std::_Exit(0);
  }
  Log("stopped");
  return 0;
}
