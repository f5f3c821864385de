#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace httplib {
class Server;
}

namespace arginator::server {

// Serves GET /metrics (Prometheus text) from cpp-httplib, whose threads have normal stacks:
// prometheus-cpp's own civetweb exposer cannot start in a process that links LibTorch
// (DESIGN.md, platform fact 2). Also GET /healthz: 200 while serving, 503 otherwise.
class MetricsHttpServer {
 public:
  MetricsHttpServer(std::function<std::string()> render, std::function<bool()> healthy);
  ~MetricsHttpServer();

  // Binds host:port (port 0 picks a free one) and starts serving on a background thread.
  absl::Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  std::function<std::string()> render_;
  std::function<bool()> healthy_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace arginator::server
