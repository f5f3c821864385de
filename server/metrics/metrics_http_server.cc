#include "server/metrics/metrics_http_server.h"

#include "absl/strings/str_cat.h"

namespace arginator::server {

MetricsHttpServer::MetricsHttpServer(std::function<std::string()> render,
                                     std::function<bool()> healthy, MetricsHttpOptions options)
    : render_(std::move(render)), healthy_(std::move(healthy)), options_(options) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

HttpResponse MetricsHttpServer::Handle(const HttpRequest& request) const {
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find_first_of("?#"));
  const bool known = path == "/metrics" || path == "/healthz";
  if (!known) return HttpResponse{404, "text/plain", "not found: try /metrics or /healthz\n", {}};
  if (request.method != "GET" && request.method != "HEAD") {
    return HttpResponse{405, "text/plain", "only GET\n", {{"Allow", "GET, HEAD"}}};
  }
  HttpResponse response;
  if (path == "/metrics") {
    response = HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", render_(), {}};
  } else {
    const bool ok = healthy_();
    response = HttpResponse{ok ? 200 : 503, "text/plain", ok ? "SERVING\n" : "NOT_SERVING\n", {}};
  }
  if (request.method == "HEAD") response.body.clear();
  return response;
}

absl::Status MetricsHttpServer::Start(const std::string& host, int port) {
  HttpServer::Options o;
  o.name = "metrics";
  o.limits = options_;
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      std::move(o),
      [this](HttpRequest request, HttpResponder respond) { respond(Handle(request)); }, host, port);
  if (!http.ok()) return http.status();
  http_ = *std::move(http);
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (http_) http_->Stop();
}

}  // namespace arginator::server
