#include "server/metrics/metrics_http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server_config.h"
#include "tests/testing/raw_http.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

// Issue 11, item 8: with cpp-httplib's defaults the metrics port multiplied responses by Range
// lists, buffered any POST body before its 404, and 8 slow connections held every thread.
class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MetricsHttpOptions options = DefaultServerConfig().metrics_http;
    options.threads = 1;
    options.read_timeout = absl::Milliseconds(500);
    options.keep_alive_timeout = absl::Seconds(1);
    server_ = std::make_unique<MetricsHttpServer>([] { return std::string(6000, 'm'); },
                                                  [] { return true; }, options);
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
  }
  // A TCP connection that sends half a request line and then nothing.
  int SlowClient() {
    const int fd = testing::ConnectLoopback(server_->port());
    EXPECT_GE(fd, 0);
    testing::SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    return fd;
  }
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpServerTest, ServesMetricsAndHealth) {
  httplib::Client http("127.0.0.1", server_->port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body.size(), 6000u);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Range is ignored: the whole page, once, whatever the ranges asked.
TEST_F(MetricsHttpServerTest, RangeListsDoNotMultiplyThePage) {
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 500; ++i) ranges += ",0-";
  httplib::Client http("127.0.0.1", server_->port());
  auto res = http.Get("/metrics", {{"Range", ranges}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body.size(), 6000u);
}

TEST_F(MetricsHttpServerTest, RequestBodiesAreRefusedNotBuffered) {
  httplib::Client http("127.0.0.1", server_->port());
  auto res = http.Post("/metrics", std::string(1 << 20, 'b'), "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
}

// Issue 23, item 8: a GET with a body was answered 200 though the docs said 413.
TEST_F(MetricsHttpServerTest, AGetWithABodyIs413) {
  int fd = SlowClient();  // the start of a GET, then its body
  const char rest[] = "Content-Length: 4\r\n\r\nbody";
  ASSERT_GT(::send(fd, rest, sizeof(rest) - 1, 0), 0);
  char answer[64] = {};
  ASSERT_GT(::recv(fd, answer, sizeof(answer) - 1, 0), 0);
  EXPECT_THAT(std::string(answer), ::testing::StartsWith("HTTP/1.1 413"));
  ::close(fd);
}

TEST_F(MetricsHttpServerTest, SlowClientsDoNotHoldTheScrapeBeyondTheReadTimeout) {
  std::vector<int> slow;
  for (int i = 0; i < 8; ++i) slow.push_back(SlowClient());  // twice the server's threads
  const auto start = std::chrono::steady_clock::now();
  httplib::Client http("127.0.0.1", server_->port());
  http.set_read_timeout(10, 0);
  auto res = http.Get("/metrics");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(seconds, 5.0) << "the slow connections held the threads";
  for (int fd : slow) ::close(fd);
}

}  // namespace
}  // namespace arginator::server
