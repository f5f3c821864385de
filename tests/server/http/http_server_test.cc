#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_http.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using testing::Gzip;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Issue 23: cpp-httplib enforced none of these for chunked or compressed bodies or headers, and
// its read timeout applied per read, so slow peers held every thread.
class HttpServerTest : public ::testing::Test {
 protected:
  static HttpLimits Limits() {
    HttpLimits l;
    l.threads = 1;  // one thread: anything that holds it locks everyone out
    l.max_connections = 64;
    l.read_timeout = absl::Milliseconds(800);
    l.write_timeout = absl::Seconds(2);
    l.keep_alive_timeout = absl::Seconds(1);
    l.max_request_body_bytes = 64 << 10;
    l.max_buffered_bytes = 96 << 10;
    l.max_header_bytes = 4096;
    l.max_headers = 20;
    return l;
  }
  void Start(HttpLimits limits = Limits(), HttpHandler handler = nullptr) {
    if (!handler) {
      handler = [](HttpRequest r, HttpResponder respond) {
        respond(HttpResponse{200, "text/plain", absl::StrCat(r.method, " ", r.body.size()), {}});
      };
    }
    HttpServer::Options o;
    o.name = "test";
    o.limits = limits;
    absl::StatusOr<std::unique_ptr<HttpServer>> server =
        HttpServer::Start(std::move(o), std::move(handler), "127.0.0.1", 0);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  int Connect() {
    const int fd = testing::ConnectLoopback(server_->port());
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }
  static void Send(int fd, const std::string& bytes) { testing::SendAll(fd, bytes); }
  // What the server sends until it closes the connection or `seconds` pass.
  static std::string ReadUntilClosed(int fd, double seconds) {
    std::string out;
    const auto start = Clock::now();
    char buf[65536];
    while (SecondsSince(start) < seconds) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(5, 0);
    return c;
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
  }

  std::unique_ptr<HttpServer> server_;
  std::vector<int> fds_;
};

TEST_F(HttpServerTest, AnswersRequestsAndKeepsTheConnection) {
  Start();
  httplib::Client c = Client();
  for (int i = 0; i < 3; ++i) {
    auto res = c.Post("/x", std::string(1000, 'a'), "text/plain");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "POST 1000");
  }
}

TEST_F(HttpServerTest, AChunkedBodyPastTheLimitIs413) {
  Start();
  const int fd = Connect();
  Send(fd, "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk = std::string("4000\r\n") + std::string(0x4000, 'a') + "\r\n";
  for (int i = 0; i < 8; ++i) Send(fd, chunk);  // 128 KB, twice the limit
  const std::string answer = ReadUntilClosed(fd, 5);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("65536 bytes"));
}

TEST_F(HttpServerTest, AGzipBodyInflatingPastTheLimitIs413) {
  Start();
  httplib::Client c = Client();
  const std::string bomb = Gzip(std::string(64 << 20, '0'));  // 64 MB in ~64 KB
  ASSERT_LT(bomb.size(), 64u << 10);
  auto res = c.Post("/x", {{"Content-Encoding", "gzip"}}, bomb, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  auto small = c.Post("/x", {{"Content-Encoding", "gzip"}}, Gzip(std::string(1000, 'z')),
                      "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->body, "POST 1000");  // decompressed before the handler
}

TEST_F(HttpServerTest, AnUnknownOrCorruptEncodingIsRefused) {
  Start();
  httplib::Client c = Client();
  auto br = c.Post("/x", {{"Content-Encoding", "br"}}, "abc", "text/plain");
  ASSERT_TRUE(br);
  EXPECT_EQ(br->status, 415);
  auto corrupt = c.Post("/x", {{"Content-Encoding", "gzip"}}, "not gzip", "text/plain");
  ASSERT_TRUE(corrupt);
  EXPECT_EQ(corrupt->status, 400);
}

TEST_F(HttpServerTest, AnOversizedContentLengthIsRefusedBeforeTheBodyIsSent) {
  Start();
  const int fd = Connect();
  // Only the headers: the answer must not wait for a body that never comes.
  Send(fd,
       "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 73400320\r\n"
       "Expect: 100-continue\r\n\r\n");
  const auto start = Clock::now();
  const std::string answer = ReadUntilClosed(fd, 5);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
  EXPECT_LT(SecondsSince(start), 0.7) << "waited for the body (read_timeout is 0.8 s)";
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredForABodyWithinTheLimit) {
  Start();
  const int fd = Connect();
  Send(fd, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  char buf[256] = {};
  ASSERT_GT(::recv(fd, buf, sizeof(buf) - 1, 0), 0);
  EXPECT_THAT(std::string(buf), StartsWith("HTTP/1.1 100 Continue"));
  Send(fd, "hello");
  ASSERT_GT(::recv(fd, buf, sizeof(buf) - 1, 0), 0);
  EXPECT_THAT(std::string(buf), StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, TooManyOrTooLargeHeadersAre431) {
  Start();
  std::string many = "GET /x HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 30; ++i) many += absl::StrCat("X-", i, ": v\r\n");
  int fd = Connect();
  Send(fd, many + "\r\n");
  EXPECT_THAT(ReadUntilClosed(fd, 5), StartsWith("HTTP/1.1 431"));

  fd = Connect();
  Send(fd, "GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
  EXPECT_THAT(ReadUntilClosed(fd, 5), StartsWith("HTTP/1.1 431"));
}

TEST_F(HttpServerTest, SlowClientsHoldNoThread) {
  Start();  // one thread
  std::vector<int> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(Connect());
    Send(slow.back(), "G");  // the first byte of a request line, then nothing
  }
  const auto start = Clock::now();
  httplib::Client c = Client();
  auto res = c.Get("/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(SecondsSince(start), 0.5) << "a probe waited behind slow clients";
}

TEST_F(HttpServerTest, ARequestMustArriveWholeWithinTheReadTimeoutNotPerRead) {
  Start();  // read_timeout 0.8 s
  const int fd = Connect();
  const std::string request = "GET /x HTTP/1.1\r\nHost: x\r\nX-Drip: " + std::string(100, 'a');
  const auto start = Clock::now();
  bool closed = false;
  for (char c : request) {  // a byte every 50 ms: each read is quick, the request is not
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char b;
      if (::recv(fd, &b, 1, 0) <= 0) {
        closed = true;
        break;
      }
    }
  }
  EXPECT_TRUE(closed) << "a request dripping for " << SecondsSince(start) << " s was kept";
  EXPECT_LT(SecondsSince(start), 2.0);
}

TEST_F(HttpServerTest, AnIdleKeepAliveConnectionIsClosed) {
  Start();  // keep_alive_timeout 1 s
  const int fd = Connect();
  Send(fd, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto start = Clock::now();
  const std::string answer = ReadUntilClosed(fd, 5);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_GT(SecondsSince(start), 0.8);
  EXPECT_LT(SecondsSince(start), 3.0) << "the idle connection was kept";
}

TEST_F(HttpServerTest, BodiesBeyondTheSharedBudgetAre503WithRetryAfter) {
  Start();  // 64 KB per body, 96 KB for all of them
  const int holding = Connect();
  Send(holding, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n" +
                    std::string(1000, 'a'));  // reserves 60 KB, sends 1 KB, waits
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int second = Connect();
  Send(second, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n");
  const std::string answer = ReadUntilClosed(second, 5);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(answer, HasSubstr("Retry-After: 1"));
  ::shutdown(holding, SHUT_RDWR);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its budget is released
  httplib::Client c = Client();
  auto res = c.Post("/x", std::string(60000, 'b'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, AHandlerThatThrowsGets500AndTheServerGoesOn) {
  Start(Limits(), [](HttpRequest r, HttpResponder respond) {
    if (r.target == "/throw") throw std::runtime_error("boom");
    respond(HttpResponse{200, "text/plain", "fine", {}});
  });
  httplib::Client c = Client();
  auto bad = c.Get("/throw");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 500);
  EXPECT_THAT(bad->body, HasSubstr("boom"));
  auto good = c.Get("/ok");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->body, "fine");
}

TEST_F(HttpServerTest, AHandlerMayAnswerLaterFromAnotherThreadAndStopWaitsForIt) {
  std::vector<std::thread> workers;
  Start(Limits(), [&workers](HttpRequest, HttpResponder respond) {
    workers.emplace_back([respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      respond(HttpResponse{200, "text/plain", "later", {}});
      respond(HttpResponse{500, "text/plain", "ignored", {}});  // only the first answer counts
    });
  });
  std::string body;
  std::thread client([&] {
    auto res = Client().Get("/slow");
    if (res) body = res->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server_->Stop();  // waits for the answer in flight
  client.join();
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(body, "later");
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitWaitInTheBacklog) {
  HttpLimits limits = Limits();
  limits.max_connections = 2;
  Start(limits);
  const int a = Connect(), b = Connect();  // both slots, idle until the read timeout
  Send(a, "G");
  Send(b, "G");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = Clock::now();
  auto res = Client().Get("/x");  // served once a slot frees (0.8 s read timeout)
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_GT(SecondsSince(start), 0.5);
}

TEST(ParseHttpRequestTest, AppliesTheConnectionsChecksToBytesInMemory) {
  HttpLimits limits;
  limits.max_request_body_bytes = 16;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  ParsedHttpRequest ok = ParseHttpRequest(
      "POST /a%20b?x=1 HTTP/1.1\r\nHost: x\r\nX-Up: V\r\nContent-Length: 3\r\n\r\nabc", "t",
      limits);
  ASSERT_TRUE(ok.request.has_value());
  EXPECT_EQ(ok.request->method, "POST");
  EXPECT_EQ(ok.request->target, "/a%20b?x=1");
  ASSERT_NE(ok.request->Header("x-up"), nullptr);
  EXPECT_EQ(*ok.request->Header("x-up"), "V");
  EXPECT_EQ(ok.request->body, "abc");

  EXPECT_FALSE(ParseHttpRequest("GET / HTTP/1.1\r\nHo", "t", limits).request.has_value());
  auto refused = [&](const std::string& bytes) {
    ParsedHttpRequest p = ParseHttpRequest(bytes, "t", limits);
    return p.refusal ? p.refusal->status : 0;
  };
  EXPECT_EQ(refused("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n"), 413);
  EXPECT_EQ(refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n" +
                    std::string(17, 'a') + "\r\n0\r\n\r\n"),
            413);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n"), 431);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nA: " + std::string(300, 'a') + "\r\n\r\n"), 431);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
  EXPECT_EQ(refused("POST / HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\na"), 415);
}

}  // namespace
}  // namespace arginator::server
