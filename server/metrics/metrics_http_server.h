#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace arginator::server {

// What every HTTP port of the server bounds (cpp-httplib's defaults do not): a hostile or slow
// peer can hold at most `threads` connections, each for at most the timeouts.
struct HttpLimits {
  int threads = 16;                                      // concurrent connections served
  absl::Duration read_timeout = absl::Seconds(2);        // to receive a whole request
  absl::Duration write_timeout = absl::Seconds(5);       // to send the response
  absl::Duration keep_alive_timeout = absl::Seconds(2);  // whole seconds; idle or slow peers
  size_t max_request_body_bytes = 0;                     // larger bodies: 413, never read
};
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
                    MetricsHttpOptions options = MetricsHttpOptions());
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
