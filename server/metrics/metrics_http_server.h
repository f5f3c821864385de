#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/http/http_server.h"

namespace arginator::server {

using MetricsHttpOptions = HttpLimits;  // GET only: bodies are refused (413)

// Serves GET /metrics (Prometheus text) and GET /healthz (200 while serving, 503 otherwise) on
// HttpServer, whose threads have normal stacks: prometheus-cpp's own civetweb exposer cannot
// start in a process that links LibTorch. HttpServer bounds what a hostile peer on the port can
// hold (a slow scrape or probe neither holds a thread nor delays another); Range headers are
// ignored (the whole page is always sent), bodies are refused.
class MetricsHttpServer {
 public:
  MetricsHttpServer(std::function<std::string()> render, std::function<bool()> healthy,
                    MetricsHttpOptions options);
  ~MetricsHttpServer();

  // Binds host:port (port 0 picks a free one) and starts serving on background threads.
  absl::Status Start(const std::string& host, int port);
  int port() const { return http_ ? http_->port() : 0; }
  void Stop();

 private:
  HttpResponse Handle(const HttpRequest& request) const;

  std::function<std::string()> render_;
  std::function<bool()> healthy_;
  const MetricsHttpOptions options_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace arginator::server
