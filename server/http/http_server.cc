#include "server/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "server/http/content_encoding.h"

namespace arginator::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct HttpResponder::State {
  std::function<void(HttpResponse)> send;
  std::atomic<bool> sent{false};
};

HttpResponder::HttpResponder(std::function<void(HttpResponse)> send)
    : state_(std::make_shared<State>()) {
  state_->send = std::move(send);
}

void HttpResponder::operator()(HttpResponse response) const {
  if (state_->sent.exchange(true)) return;
  // The session lives in `send` until the answer is handed over: released here, so a responder
  // kept after its answer holds no connection.
  auto send = std::move(state_->send);
  send(std::move(response));
}

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

// Owns the I/O contexts, their threads, the acceptor and what every connection shares: the
// limits, the handler, the count of open connections and the budget of buffered body bytes.
class HttpServer::Impl {
 public:
  Impl(Options options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        contexts_(MakeContexts(options_.limits.threads)),
        acceptor_(*contexts_[0]) {}

  absl::Status Listen(const std::string& host, int port);
  void Run();
  void Stop();
  int port() const { return port_; }

  const Options& options() const { return options_; }
  const HttpLimits& limits() const { return options_.limits; }

  // Takes `bytes` of the shared body budget; false (nothing taken) when it would pass the limit.
  bool Reserve(size_t bytes) {
    size_t used = buffered_.load();
    do {
      if (bytes > limits().max_buffered_bytes - std::min(used, limits().max_buffered_bytes)) {
        return false;
      }
    } while (!buffered_.compare_exchange_weak(used, used + bytes));
    return true;
  }
  void Release(size_t bytes) { buffered_ -= bytes; }

  // Hands a request to the handler; every request taken is answered before Stop returns.
  void Dispatch(HttpRequest request, HttpResponder responder);
  void Answered();
  void Closed();
  bool stopping() const { return stopping_.load(); }
  HttpResponse ErrorResponse(int status, const std::string& message) const {
    return options_.error_body(status, message);
  }

 private:
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<net::io_context>> contexts;
    for (int i = 0; i < n; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
    return contexts;
  }
  void Accept();
  template <class Stream>
  void StartSession(tcp::socket socket);

  const Options options_;
  const HttpHandler handler_;
  std::optional<ssl::context> tls_;
  std::atomic<size_t> buffered_{0};
  std::atomic<bool> stopping_{false};
  int port_ = 0;
  std::vector<std::thread> threads_;
  Mutex mu_;
  CondVar answered_cv_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  bool accept_paused_ ABSL_GUARDED_BY(mu_) = false;

  // One I/O context per thread, each connection on one of them for its life: its reads, handler
  // and writes run on one thread, never waking another (one shared context handed each step to
  // whichever thread was free: ~200 us more per REST request at one connection). After what
  // sessions use, so that sessions still queued in them when they are destroyed (after the
  // acceptor and the work guards, which use them) see those members alive.
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  size_t next_context_ = 0;  // round robin; only the acceptor's thread uses it
  // Keep the threads running while a handler holds a request and no I/O is pending.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
};

namespace {

http::status ToBeastStatus(int status) { return static_cast<http::status>(status); }

using RequestParser = http::request_parser<http::string_body>;

// A parser for one request within `limits`.
void LimitParser(const HttpLimits& limits, RequestParser& parser) {
  parser.header_limit(static_cast<uint32_t>(
      std::min<size_t>(limits.max_header_bytes, std::numeric_limits<uint32_t>::max())));
  parser.body_limit(limits.max_request_body_bytes);
}

HttpRefusal BodyTooLarge(const std::string& name, const HttpLimits& limits) {
  return {413, absl::StrCat("the request body exceeds ", name, "'s limit of ",
                            limits.max_request_body_bytes, " bytes")};
}

// What a parse error means for the peer: an answer, or nothing (it went away or timed out).
std::optional<HttpRefusal> RefusalFor(const beast::error_code& ec, const std::string& name,
                                      const HttpLimits& limits) {
  if (ec == http::error::header_limit) {
    return HttpRefusal{
        431, absl::StrCat("the request's headers exceed ", limits.max_header_bytes, " bytes")};
  }
  if (ec == http::error::body_limit) return BodyTooLarge(name, limits);
  if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return HttpRefusal{400, "malformed HTTP request: " + ec.message()};
  }
  return std::nullopt;
}

// The checks on a request's header once it has arrived whole.
std::optional<HttpRefusal> CheckHeader(const RequestParser& parser, const std::string& name,
                                       const HttpLimits& limits) {
  const auto& header = parser.get();
  if (static_cast<size_t>(std::distance(header.begin(), header.end())) > limits.max_headers) {
    return HttpRefusal{
        431, absl::StrCat("the request has more than ", limits.max_headers, " header fields")};
  }
  if (!parser.is_done() && limits.max_request_body_bytes == 0) return BodyTooLarge(name, limits);
  return std::nullopt;
}

// The handler's view of a whole request: headers in lower case, the body decoded within the
// limit; or the answer that refuses it.
ParsedHttpRequest ToHttpRequest(http::request<http::string_body> message, const std::string& name,
                                const HttpLimits& limits) {
  ParsedHttpRequest out;
  HttpRequest& request = out.request.emplace();
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    request.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                                 std::string(field.value()));
  }
  const std::string* encoding = request.Header("content-encoding");
  absl::StatusOr<std::string> body = DecodeContent(
      encoding ? *encoding : "", std::move(message.body()), limits.max_request_body_bytes);
  if (!body.ok()) {
    const absl::StatusCode code = body.status().code();
    out.request.reset();
    out.refusal = code == absl::StatusCode::kResourceExhausted
                      ? BodyTooLarge(name, limits)
                      : HttpRefusal{code == absl::StatusCode::kUnimplemented ? 415 : 400,
                                    std::string(body.status().message())};
    return out;
  }
  request.body = *std::move(body);
  return out;
}

// One connection: reads a request whole within the limits, hands it to the handler, writes its
// answer, and waits for the next one. All of its work runs on its I/O context's one thread.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl* server, Stream stream) : server_(server), stream_(std::move(stream)) {}
  ~Session() {
    server_->Release(reserved_);
    server_->Closed();
  }

  void Start() {
    // The first request's clock runs from the connection: handshake, headers and body.
    Lowest().expires_after(ToChrono(server_->limits().read_timeout));
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  static std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
    return absl::ToChronoNanoseconds(d);
  }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Between requests: the keep-alive limit until a byte arrives, then the request's own.
  void AwaitNextRequest() {
    if (buffer_.size() > 0) {
      Lowest().expires_after(ToChrono(server_->limits().read_timeout));
      return ReadHeader();
    }
    Lowest().expires_after(ToChrono(server_->limits().keep_alive_timeout));
    stream_.async_read_some(
        buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          if (ec) return;  // closed, or idle past the keep-alive limit
          self->buffer_.commit(n);
          self->Lowest().expires_after(ToChrono(self->server_->limits().read_timeout));
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    parser_.emplace();
    LimitParser(server_->limits(), *parser_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Failed(ec);
    if (auto refusal = CheckHeader(*parser_, server_->options().name, server_->limits())) {
      return Refuse(*refusal);
    }
    if (server_->stopping()) return Refuse(HttpRefusal{503, "the server is shutting down"});
    if (parser_->is_done()) return OnRequest();
    if (auto length = parser_->content_length(); length && !Take(*length)) return RefuseBusy();
    const auto& header = parser_->get();
    // Bodies are read in large pieces and parsed as far as they go: Beast reads 512 bytes at a
    // time into a small buffer, a dispatch per piece (40 for a 20 KB JSON request).
    parser_->eager(true);
    buffer_.reserve(
        std::min<size_t>(parser_->content_length().value_or(kBodyReadBytes), kBodyReadBytes));
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, header.version());
      return http::async_write(stream_, *continue_,
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (!ec) self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read_some(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) return Failed(ec);
    // A chunked body takes its budget as it grows.
    const size_t size = parser_->get().body().size();
    if (size > reserved_ && !Take(size - reserved_)) return RefuseBusy();
    if (!parser_->is_done()) return ReadBody();
    OnRequest();
  }

  bool Take(size_t bytes) {
    if (!server_->Reserve(bytes)) return false;
    reserved_ += bytes;
    return true;
  }

  void OnRequest() {
    Lowest().expires_never();  // the handler may take its time; the write has its own limit
    http::request<http::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();
    ParsedHttpRequest parsed =
        ToHttpRequest(std::move(message), server_->options().name, server_->limits());
    if (parsed.refusal) return Refuse(*parsed.refusal);
    HttpRequest& request = *parsed.request;
    if (request.body.size() > reserved_ && !Take(request.body.size() - reserved_)) {
      return RefuseBusy();
    }
    server_->Dispatch(std::move(request),
                      HttpResponder([self = this->shared_from_this()](HttpResponse response) {
                        // Inline when answered on the connection's own thread (the handler, or
                        // a forward it ran), else queued to it.
                        net::dispatch(self->stream_.get_executor(),
                                      [self, response = std::move(response)]() mutable {
                                        self->Write(std::move(response), /*answered=*/true);
                                      });
                      }));
  }

  void RefuseBusy() {
    HttpResponse response =
        server_->ErrorResponse(503, "too many request bodies are being received; retry shortly");
    response.headers.emplace_back("Retry-After", "1");
    Refuse(std::move(response));
  }
  void Refuse(const HttpRefusal& refusal) {
    Refuse(server_->ErrorResponse(refusal.status, refusal.message));
  }
  // Answers an error the server found itself and closes the connection: the rest of the request,
  // if any, is never read.
  void Refuse(HttpResponse response) {
    keep_alive_ = false;
    Write(std::move(response), /*answered=*/false);
  }
  // A read failed: answer what deserves an answer; a peer that went away or ran out of time
  // gets nothing.
  void Failed(const beast::error_code& ec) {
    if (auto refusal = RefusalFor(ec, server_->options().name, server_->limits())) {
      Refuse(*refusal);
    }
  }

  void Write(HttpResponse response, bool answered) {
    parser_.reset();
    response_.emplace(ToBeastStatus(response.status), 11);
    response_->set(http::field::server, "arginator");
    for (auto& [name, value] : response.headers) response_->set(name, value);
    if (!response.content_type.empty()) {
      response_->set(http::field::content_type, response.content_type);
    }
    response_->body() = std::move(response.body);
    response_->keep_alive(keep_alive_ && !server_->stopping());
    response_->prepare_payload();
    Lowest().expires_after(ToChrono(server_->limits().write_timeout));
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this(), answered](beast::error_code ec, size_t) {
                        self->OnWritten(ec, answered);
                      });
  }

  void OnWritten(beast::error_code ec, bool answered) {
    server_->Release(reserved_);
    reserved_ = 0;
    const bool again = !ec && response_->keep_alive();
    response_.reset();
    if (buffer_.size() == 0 && buffer_.capacity() > kIdleBufferBytes) buffer_.shrink_to_fit();
    if (answered) server_->Answered();
    if (again) return AwaitNextRequest();
    if (!ec) Shutdown();
  }

  // Closes after an answer. A refused request may still be arriving: closing a socket with unread
  // bytes resets it, and the peer could lose the answer, so the rest is read and dropped for a
  // moment first (as nginx's lingering close).
  void Shutdown() {
    Lowest().expires_after(std::min<std::chrono::steady_clock::duration>(
        ToChrono(server_->limits().write_timeout), kLinger));
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      Linger();
    }
  }
  void Linger() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kBodyReadBytes),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->Linger();
                            });
  }
  static constexpr std::chrono::seconds kLinger{2};
  static constexpr size_t kBodyReadBytes = 64 << 10;   // the read buffer while a body arrives
  static constexpr size_t kIdleBufferBytes = 8 << 10;  // kept between requests

  HttpServer::Impl* const server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  size_t reserved_ = 0;  // bytes of the shared body budget this connection holds
  bool keep_alive_ = false;
};

}  // namespace

absl::Status HttpServer::Impl::Listen(const std::string& host, int port) {
  const std::string& name = options_.name;
  if (!options_.tls_cert.empty()) {
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls_->use_certificate_chain_file(options_.tls_cert, ec);
    if (!ec) tls_->use_private_key_file(options_.tls_key, ssl::context::pem, ec);
    if (!ec && !options_.tls_client_ca.empty()) {
      tls_->load_verify_file(options_.tls_client_ca, ec);
      tls_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": cannot use the TLS certificate ",
                                                     options_.tls_cert, " and key ",
                                                     options_.tls_key, ": ", ec.message()));
    }
  }
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(name, ": bad host address ", host));
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(name, ": cannot bind ", host, ":", port, ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  return absl::OkStatus();
}

void HttpServer::Impl::Run() {
  for (auto& context : contexts_) work_.push_back(net::make_work_guard(*context));
  net::post(acceptor_.get_executor(), [this] { Accept(); });
  for (auto& context : contexts_) {
    threads_.emplace_back([context = context.get()] { context->run(); });
  }
}

void HttpServer::Impl::Accept() {
  {
    MutexLock lock(&mu_);
    if (connections_ >= limits().max_connections) {
      accept_paused_ = true;  // Closed() resumes; meanwhile peers wait in the listen backlog
      return;
    }
  }
  net::io_context& context = *contexts_[next_context_++ % contexts_.size()];
  acceptor_.async_accept(context, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopping_) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      {
        MutexLock lock(&mu_);
        ++connections_;
      }
      if (tls_) {
        StartSession<beast::ssl_stream<beast::tcp_stream>>(std::move(socket));
      } else {
        StartSession<beast::tcp_stream>(std::move(socket));
      }
    }
    Accept();
  });
}

template <class Stream>
void HttpServer::Impl::StartSession(tcp::socket socket) {
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    std::make_shared<Session<Stream>>(this, Stream(std::move(socket)))->Start();
  } else {
    std::make_shared<Session<Stream>>(this, Stream(std::move(socket), *tls_))->Start();
  }
}

void HttpServer::Impl::Closed() {
  MutexLock lock(&mu_);
  --connections_;
  if (accept_paused_ && !stopping_) {
    accept_paused_ = false;
    net::post(acceptor_.get_executor(), [this] { Accept(); });
  }
}

void HttpServer::Impl::Dispatch(HttpRequest request, HttpResponder responder) {
  {
    MutexLock lock(&mu_);
    ++in_flight_;
  }
  try {
    handler_(std::move(request), responder);
  } catch (const std::exception& e) {
    responder(ErrorResponse(500, absl::StrCat("internal error: ", e.what())));
  } catch (...) {
    responder(ErrorResponse(500, "internal error"));
  }
}

void HttpServer::Impl::Answered() {
  MutexLock lock(&mu_);
  if (--in_flight_ == 0) answered_cv_.SignalAll();
}

void HttpServer::Impl::Stop() {
  if (stopping_.exchange(true)) return;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  {
    MutexLock lock(&mu_);
    while (in_flight_ > 0) answered_cv_.Wait(&mu_);
  }
  work_.clear();
  for (auto& context : contexts_) context->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

ParsedHttpRequest ParseHttpRequest(std::string_view bytes, const std::string& name,
                                   const HttpLimits& limits) {
  RequestParser parser;
  LimitParser(limits, parser);
  parser.eager(false);  // the header alone first, as a connection reads it
  beast::error_code ec;
  size_t used = parser.put(net::buffer(bytes.data(), bytes.size()), ec);
  if (ec && ec != http::error::need_more) return {std::nullopt, RefusalFor(ec, name, limits)};
  if (!parser.is_header_done()) return {};
  if (auto refusal = CheckHeader(parser, name, limits)) return {std::nullopt, refusal};
  parser.eager(true);
  while (!parser.is_done() && used < bytes.size()) {
    const size_t n = parser.put(net::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) return {std::nullopt, RefusalFor(ec, name, limits)};
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) return {};
  return ToHttpRequest(parser.release(), name, limits);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options, HttpHandler handler,
                                                              const std::string& host, int port) {
  if (!options.error_body) {
    options.error_body = [](int status, const std::string& message) {
      return HttpResponse{status, "text/plain; charset=utf-8", message + "\n", {}};
    };
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  if (absl::Status s = impl->Listen(host, port); !s.ok()) return s;
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace arginator::server
