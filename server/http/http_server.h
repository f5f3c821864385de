#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/http/http_limits.h"

namespace arginator::server {

// One request, read whole: the body is de-chunked and decompressed (Content-Encoding gzip or
// deflate) and within HttpLimits::max_request_body_bytes.
struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // as sent, still percent-encoded: path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;

  // The value of the first header named `name` (lower case), or nullptr.
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty: no body is expected
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones, e.g. Retry-After
};

// An error the server answers itself, before any handler sees the request.
struct HttpRefusal {
  int status = 0;  // 400, 413, 415, 431
  std::string message;
};

// What a connection makes of the bytes of one request, before its handler: the request, or the
// refusal it answers with, or neither while the request is incomplete. Connections apply these
// same checks as the bytes arrive; this runs them on bytes in memory (tests, fuzzing).
struct ParsedHttpRequest {
  std::optional<HttpRequest> request;
  std::optional<HttpRefusal> refusal;
};
ParsedHttpRequest ParseHttpRequest(std::string_view bytes, const std::string& name,
                                   const HttpLimits& limits);

// Answers the request it was given to: call it exactly once, from any thread, at any later time.
// Copies share one answer: the first call wins, later ones are ignored.
class HttpResponder {
 public:
  explicit HttpResponder(std::function<void(HttpResponse)> send);
  void operator()(HttpResponse response) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Handles a request; answers through the responder, now or later (the connection reads nothing
// more until it is answered). Must not throw: an exception is answered with `error_body(500)`.
using HttpHandler = std::function<void(HttpRequest, HttpResponder)>;

// An HTTP/1.1 server (Boost.Beast over Asio), with or without TLS, that enforces HttpLimits
// against hostile peers: connections are asynchronous (a slow peer holds a timer, not a thread);
// a request must arrive whole within read_timeout of its first byte, an idle keep-alive
// connection closes after keep_alive_timeout; headers, bodies (after decompression) and the
// bodies buffered across connections are bounded; Expect: 100-continue is answered only for a
// body that will be read, so an oversized one is refused before it is sent. Errors it answers
// itself (400, 408 is never sent: a timed-out peer is closed; 413, 415, 431, 503) carry the body
// `error_body` makes. Thread-safe; Stop() is idempotent.
class HttpServer {
 public:
  struct Options {
    std::string name;  // for error messages, e.g. "REST"
    HttpLimits limits;
    std::string tls_cert, tls_key, tls_client_ca;  // PEM files; empty cert: plaintext
    // The body of an error the server answers itself, from its status and a message.
    std::function<HttpResponse(int status, const std::string& message)> error_body;
  };

  // Binds host:port (0 picks a free one) and serves on limits.threads background threads.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options, HttpHandler handler,
                                                           const std::string& host, int port);
  ~HttpServer();

  int port() const;
  // Stops accepting, waits until every request taken has been answered (their handlers'
  // responders called and the answers written or failed), then closes every connection.
  void Stop();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace arginator::server
