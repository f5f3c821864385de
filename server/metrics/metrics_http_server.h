#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/http_limits.h"

namespace httplib {
class Server;
}

namespace arginator::server {

using MetricsHttpOptions = HttpLimits;  // GET only: max_request_body_bytes 0 refuses any body

// Applies `limits` to a cpp-httplib server, and refuses Range requests (416): cpp-httplib would
// apply them to the response, and a request listing thousands of ranges multiplied it.
void ApplyHttpLimits(const HttpLimits& limits, httplib::Server& http);

// Serves GET /metrics (Prometheus text) from cpp-httplib, whose threads have normal stacks:
// prometheus-cpp's own civetweb exposer cannot start in a process that links LibTorch.
// Also GET /healthz: 200 while serving, 503 otherwise.
// Hardened against a hostile peer on the port (cpp-httplib's defaults are not): bodies are
// refused, not buffered; Range requests are refused (a request listing thousands of ranges
// multiplied the page); a connection that does not finish its request within the read timeout
// is closed, so a few slow clients cannot hold every thread.
class MetricsHttpServer {
 public:
  MetricsHttpServer(std::function<std::string()> render, std::function<bool()> healthy,
                    MetricsHttpOptions options);
  ~MetricsHttpServer();

  // Binds host:port (port 0 picks a free one) and starts serving on a background thread.
  absl::Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  std::function<std::string()> render_;
  std::function<bool()> healthy_;
  const MetricsHttpOptions options_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace arginator::server
