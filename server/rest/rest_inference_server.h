#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/bounded_json.h"
#include "server/http/http_server.h"
#include "server/serving/serving_path.h"
#include "server/serving/serving_status.h"

namespace arginator::server {

// The Open Inference Protocol (KServe v2) over HTTP/REST, on a port of its own (server.rest_port),
// with the JSON tensor format and the binary tensor data extension (Inference-Header-Content-
// Length):
//   GET  /v2                                        server metadata
//   GET  /v2/health/live, /v2/health/ready          200, or 400 when not
//   GET  /v2/models/{name}[/versions/{v}]           model metadata
//   GET  /v2/models/{name}[/versions/{v}]/ready     200, or 400 when not
//   POST /v2/models/{name}[/versions/{v}]/infer     inference
// Path segments are percent-decoded. Errors are {"error": "..."}, valid UTF-8 JSON whatever the
// request held, with 400 (bad request), 404 (no such model, version or endpoint), 405, 413 (body
// over rest.max_request_bytes), 415, 431, 503 (not ready, draining, busy), 504 (deadline), 500.
// An inference is decoded into v2 tensors (server/v2/infer_tensors.h), runs on the serving path
// (server/serving/) and is answered when its batch completes, so REST requests batch with gRPC
// ones and hold no HTTP thread while they wait. Its deadline is rest.request_timeout_s after
// arrival, or the request's `timeout` parameter (microseconds) when that is earlier. Readiness
// comes from the same ServingStatus as grpc.health.v1; while draining, new inference requests get
// 503 and those in flight finish. HttpServer enforces the connection limits (HttpLimits); the JSON
// body is parsed within `json` before any recursive walk.
class RestInferenceServer {
 public:
  struct Options {
    HttpLimits limits;
    JsonLimits json;
    // An inference request whose forward has not run within this of its arrival (queued behind
    // other batches) fails with 504 (DEADLINE_EXCEEDED), as a gRPC call past its deadline does.
    absl::Duration request_timeout = absl::InfiniteDuration();
    std::string tls_cert, tls_key, tls_client_ca;  // PEM files; empty cert: plaintext
  };

  // Everything passed outlives the server.
  RestInferenceServer(ServingPath* path, const ServingStatus* status, Options options);
  ~RestInferenceServer();

  // Binds host:port (0 picks a free one) and serves on background threads.
  absl::Status Start(const std::string& host, int port);
  int port() const { return http_ ? http_->port() : 0; }
  // Stops accepting and waits for the requests in flight.
  void Stop();

 private:
  void Handle(HttpRequest request, HttpResponder respond) const;
  // POST .../infer: answers through `respond` when the request's batch completes.
  void Infer(const std::string& name, const std::string& version, HttpRequest request,
             HttpResponder respond) const;

  ServingPath* const path_;
  const ServingStatus* const status_;
  const Options options_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace arginator::server
