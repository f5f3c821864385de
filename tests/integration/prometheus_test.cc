// A real Prometheus (Debian's package) on loopback scrapes a running arginator-server; after N
// classifications a PromQL query over its HTTP API returns N.
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/served_models_fixture.h"

namespace arginator {
namespace {

using testing::kBinary;
using testing::RunCommand;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class PrometheusTest : public testing::ServedModelsTest {
 protected:
  void TearDown() override {
    if (prometheus_pid_ > 0) {
      ::kill(prometheus_pid_, SIGTERM);
      RunCommand("timeout 10 tail --pid=" + std::to_string(prometheus_pid_) + " -f /dev/null");
    }
  }
  int prometheus_pid_ = 0;
};

TEST_F(PrometheusTest, ScrapedRequestCountMatchesWhatWasSent) {
  if (RunCommand("command -v prometheus").exit_code != 0) GTEST_SKIP() << "no prometheus";
  StartServer();
  const int port = FreePort();
  std::ofstream(work_.Join("prometheus.yml"))
      << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
      << "scrape_configs:\n  - job_name: arginator\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << server_->metrics_port() << "']\n";
  auto started = RunCommand("prometheus --config.file=" + work_.Join("prometheus.yml") +
                            " --storage.tsdb.path=" + work_.Join("tsdb") +
                            " --web.listen-address=127.0.0.1:" + std::to_string(port) + " > " +
                            work_.Join("prometheus.log") + " 2>&1 & echo $!");
  prometheus_pid_ = std::stoi(started.output);

  constexpr int kCalls = 13;
  const v1::ClassifyRequest req = GoldenRequest(Card(kBinary, 1));
  for (int i = 0; i < kCalls; ++i) {
    v1::ClassifyResponse resp;
    ASSERT_TRUE(Classify(req, &resp).ok());
  }
  httplib::Client api("127.0.0.1", port);
  std::string last;
  const bool matched = WaitFor(
      [&] {
        auto res =
            api.Get("/api/v1/query?query=" + httplib::detail::encode_query_param(
                                                 "sum(arginator_requests_total{job=\"arginator\","
                                                 "method=\"Classify\",code=\"OK\"})"));
        if (!res || res->status != 200) return false;
        last = res->body;
        auto body = nlohmann::json::parse(res->body, nullptr, false);
        if (body.is_discarded() || body["data"]["result"].empty()) return false;
        return body["data"]["result"][0]["value"][1] == std::to_string(kCalls);
      },
      60);
  EXPECT_TRUE(matched) << "last answer: " << last << "\n"
                       << testing::RunCommand("tail -5 " + work_.Join("prometheus.log")).output;
}

}  // namespace
}  // namespace arginator
