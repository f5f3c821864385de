#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/metrics/metrics_http_server.h"
#include "server/service/served_job.h"
#include "server/service/serving_status.h"

namespace arginator::server {

// The Open Inference Protocol (KServe v2) over HTTP/REST, on a port of its own (server.rest_port),
// with the JSON tensor format and the binary tensor data extension (Inference-Header-Content-
// Length):
//   GET  /v2                                        server metadata
//   GET  /v2/health/live, /v2/health/ready          200, or 400 when not
//   GET  /v2/models/{name}[/versions/{v}]           model metadata
//   GET  /v2/models/{name}[/versions/{v}]/ready     200, or 400 when not
//   POST /v2/models/{name}[/versions/{v}]/infer     inference
// Errors are {"error": "..."} with 400 (bad request), 404 (no such model or version), 503 (not
// ready, draining), 413 (body over rest.max_request_bytes), 500. Inference runs the shared request
// path (served_job.h) on the caller's HTTP thread, so REST requests batch with gRPC ones.
// Readiness comes from the same ServingStatus as grpc.health.v1; while draining, new inference
// requests get 503 and those in flight finish. cpp-httplib, bounded by HttpLimits.
class RestInferenceServer {
 public:
  struct Options {
    HttpLimits limits;
    std::string tls_cert, tls_key, tls_client_ca;  // PEM files; empty cert: plaintext
  };

  // Everything passed outlives the server.
  RestInferenceServer(const ClassifyEnv* env, const ServingStatus* status, Options options);
  ~RestInferenceServer();

  // Binds host:port (0 picks a free one) and serves on background threads.
  absl::Status Start(const std::string& host, int port);
  int port() const { return port_; }
  // Stops accepting and waits for the requests in flight.
  void Stop();

 private:
  void Route();

  const ClassifyEnv* const env_;
  const ServingStatus* const status_;
  const Options options_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace arginator::server
