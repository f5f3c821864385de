// arginator-loadgen against the real server, driven as a ghz user drives ghz: ghz's flags, its
// report and formats, its stop rules.
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "arginator/v1/classifier.pb.h"
#include "common/embedding_matrix.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/served_models_fixture.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;
using testing::kBinary;
using testing::RunCommand;

const std::string kLoadgen = ARGINATOR_LOADGEN_BIN;

class LoadgenTest : public testing::ServedModelsTest {
 protected:
  void SetUp() override {
    testing::ServedModelsTest::SetUp();
    StartServer();
  }
  // Runs the load generator against the server (plaintext) with `args`; the report goes to a
  // file, since stdout and stderr come back together.
  testing::CommandResult Run(const std::string& args) {
    return RunCommand(kLoadgen + " --insecure " + args + " -o " + work_.Join("report") + " " +
                      server_->target());
  }
  std::string Report() {
    std::ifstream in(work_.Join("report"));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  nlohmann::json JsonReport(const std::string& args) {
    auto r = Run(args + " -O json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(Report());
  }
  static int64_t HistogramCount(const nlohmann::json& report) {
    int64_t n = 0;
    for (const auto& b : report["histogram"]) n += b["count"].get<int64_t>();
    return n;
  }
};

TEST_F(LoadgenTest, CountsAddUpInGhzReport) {
  auto report = JsonReport(absl::StrCat("--model ", kBinary, " -c 4 -n 200 --batch 3 --packed -e"));
  EXPECT_EQ(report["count"], 200);
  EXPECT_EQ(report["endReason"], "normal");
  EXPECT_EQ(report["statusCodeDistribution"]["OK"], 200);
  EXPECT_TRUE(report["errorDistribution"].empty());
  EXPECT_NEAR(report["embeddingsPerSecond"].get<double>(), 3 * report["rps"].get<double>(), 1e-6);
  EXPECT_LE(report["fastest"].get<int64_t>(), report["slowest"].get<int64_t>());
  EXPECT_EQ(report["latencyDistribution"].size(), 7u);
  EXPECT_EQ(report["histogram"].size(), 11u);
  EXPECT_EQ(HistogramCount(report), 200);
  EXPECT_TRUE(report["details"].is_null());  // only with --details
  EXPECT_EQ(report["options"]["enable-compression"], true);
}

TEST_F(LoadgenTest, ErrorsUseGoNamesAndStayOutOfLatenciesUnlessCounted) {
  // A JSON array is sent round robin: one request in two names a model that does not exist.
  const std::string data =
      absl::StrCat(R"('[{"model":{"name":")", kBinary, R"("},"packedIds":["a"],"packedValues":")",
                   std::string(5460, 'A'), R"(AA=="},{"model":{"name":"nope"}}]')");
  auto report = JsonReport("-d " + data + " -c 1 -n 100 --details");
  EXPECT_EQ(report["statusCodeDistribution"]["OK"], 50);
  EXPECT_EQ(report["statusCodeDistribution"]["NotFound"], 50);
  ASSERT_EQ(report["errorDistribution"].size(), 1u);
  EXPECT_THAT(report["errorDistribution"].begin().key(),
              ::testing::StartsWith("rpc error: code = NotFound desc = model 'nope'"));
  EXPECT_EQ(HistogramCount(report), 50);  // the OK ones only
  ASSERT_EQ(report["details"].size(), 100u);
  int errors = 0;
  for (const auto& d : report["details"]) {
    errors += d["status"] == "NotFound";
    EXPECT_EQ(d["error"].get<std::string>().empty(), d["status"] == "OK");
  }
  EXPECT_EQ(errors, 50);

  auto counted = JsonReport("-d " + data + " -c 1 -n 100 --count-errors");
  EXPECT_EQ(HistogramCount(counted), 100);
  EXPECT_EQ(counted["options"]["count-errors"], true);

  // Only errors: nothing to take latencies from, as in ghz.
  auto none = JsonReport("--model nope -c 2 -n 20");
  EXPECT_EQ(none["statusCodeDistribution"]["NotFound"], 20);
  EXPECT_EQ(none["fastest"], 0);
  EXPECT_TRUE(none["latencyDistribution"].is_null());
  EXPECT_GT(none["average"].get<int64_t>(), 0);  // ghz's average counts every request
}

TEST_F(LoadgenTest, WorkersOnSeveralConnectionsStopAtExactlyTheTotal) {
  for (const char* call : {"Classify", "ClassifyStream"}) {
    auto report = JsonReport(absl::StrCat("--model ", kBinary, " --call arginator.v1.Classifier/",
                                          call, " -c 12 --connections 3 --threads 2 -n 500"));
    EXPECT_EQ(report["count"], 500) << call;
    EXPECT_EQ(report["statusCodeDistribution"]["OK"], 500) << call;
    EXPECT_EQ(report["options"]["connections"], 3);
  }
}

TEST_F(LoadgenTest, SkipFirstLeavesResultsOutOfTheTally) {
  auto report = JsonReport(absl::StrCat("--model ", kBinary, " -c 2 -n 100 --skipFirst 30"));
  EXPECT_EQ(report["count"], 70);
  EXPECT_EQ(report["options"]["skipFirst"], 30);
}

TEST_F(LoadgenTest, DurationWinsOverTotalAndEndsAsTimeout) {
  for (const char* stop : {"close", "ignore", "wait"}) {
    auto report = JsonReport(
        absl::StrCat("--model ", kBinary, " -c 4 -n 5 -z 1500ms", " --duration-stop ", stop));
    EXPECT_GT(report["count"].get<int64_t>(), 5) << stop;
    EXPECT_EQ(report["endReason"], "timeout") << stop;
    EXPECT_EQ(report["options"]["duration"], 1500000000);
    if (std::string(stop) == "wait") {
      EXPECT_GE(report["total"].get<int64_t>(), 1500000000);
    } else {
      EXPECT_EQ(report["total"], 1500000000) << stop;  // cut at the end
    }
    // Calls cut at the end are Canceled with close, left out with ignore, finished with wait.
    for (const auto& [code, n] : report["statusCodeDistribution"].items()) {
      EXPECT_TRUE(code == "OK" || (code == "Canceled" && std::string(stop) == "close"))
          << stop << ": " << code;
    }
  }
}

TEST_F(LoadgenTest, OpenLoopHoldsItsRate) {
  auto report = JsonReport(absl::StrCat("--model ", kBinary, " -c 8 -r 200 -z 2s --warmup 500ms"));
  // 200 req/s for 2 s: the schedule, not the server's speed, sets the count.
  EXPECT_NEAR(report["count"].get<double>(), 400, 40);
  EXPECT_NEAR(report["rps"].get<double>(), 200, 25);
  EXPECT_EQ(report["options"]["rps"], 200);
}

TEST_F(LoadgenTest, BinaryRequestFromFileAndStdin) {
  v1::ClassifyRequest request;
  request.mutable_model()->set_name(kBinary);
  request.add_packed_ids("p");
  request.set_packed_values(std::string(4096, '\0'));
  std::ofstream(work_.Join("request.bin"), std::ios::binary) << request.SerializeAsString();
  EXPECT_EQ(
      JsonReport("-B " + work_.Join("request.bin") + " -c 2 -n 20")["statusCodeDistribution"]["OK"],
      20);
  auto r = RunCommand("cat " + work_.Join("request.bin") + " | " + kLoadgen +
                      " --insecure -b -c 2 -n 20 -O json -o " + work_.Join("report") + " " +
                      server_->target());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(Report())["statusCodeDistribution"]["OK"], 20);
}

TEST_F(LoadgenTest, FormatsCsvPrometheusAndSummary) {
  auto r = Run(absl::StrCat("--model ", kBinary, " -c 2 -n 30 -O csv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> lines = absl::StrSplit(Report(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 31u);
  EXPECT_EQ(lines[0], "duration (ms),status,error,timestamp");
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("[0-9]+\\.[0-9][0-9],OK,,.*Z"));

  r = Run(absl::StrCat("--model ", kBinary, " -c 2 -n 30 -O prometheus --name nightly"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Report(), HasSubstr("ghz_run_count{name=\"nightly\",end_reason=\"normal\","));
  std::ofstream(work_.Join("report.prom")) << Report();
  auto check = RunCommand("command -v promtool >/dev/null || exit 77; promtool check metrics < " +
                          work_.Join("report.prom"));
  if (check.exit_code != 77) {
    // promtool's lint wants _total/units on names ghz chose; only a parse error fails.
    EXPECT_THAT(check.output, ::testing::Not(HasSubstr("error while linting: text format parsing")))
        << check.output;
  }

  r = Run(absl::StrCat("--model ", kBinary, " -c 2 -n 30"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"Summary:", "  Count:\t30", "Response time histogram:",
                           "Latency distribution:", "  [OK]   30 responses"}) {
    EXPECT_THAT(Report(), HasSubstr(line));
  }
}

TEST_F(LoadgenTest, StreamCallSendsItsRequestsOverClassifyStream) {
  auto report = JsonReport(absl::StrCat(
      "--model ", kBinary, " --call arginator.v1.Classifier.ClassifyStream -c 3 -n 90 --batch 2"));
  EXPECT_EQ(report["count"], 90);
  EXPECT_EQ(report["statusCodeDistribution"]["OK"], 90);
  EXPECT_EQ(report["options"]["call"], "arginator.v1.Classifier.ClassifyStream");
  EXPECT_NEAR(report["embeddingsPerSecond"].get<double>(), 2 * report["rps"].get<double>(), 1e-6);
  // The server counted them as stream messages, not as unary calls.
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(
      metrics->body,
      HasSubstr("arginator_requests_total{code=\"OK\",method=\"ClassifyStream\","
                "model=\"betalactamase-binary\",protocol=\"arginator.v1\",version=\"1\"} 90"));

  // A message's error is that message's status; the stream goes on serving the next ones.
  auto errors = JsonReport("--model nope --stream -c 2 -n 20");
  EXPECT_EQ(errors["statusCodeDistribution"]["NotFound"], 20);
}

TEST_F(LoadgenTest, TlsUnlessInsecureAsGhz) {
  // Without --insecure the load generator speaks TLS, which a plaintext server does not: it says
  // so and exits 1 (the run never starts), as ghz does.
  auto r = RunCommand(kLoadgen + " --model " + kBinary + " -n 5 --connect-timeout 1s " +
                      server_->target());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("a plaintext server needs --insecure"));
}

TEST_F(LoadgenTest, InterruptEndsTheRunWithItsReport) {
  auto r = RunCommand(kLoadgen + " --insecure --model " + kBinary +
                      " -c 2 -n 100000000 -O json -o " + work_.Join("report") + " " +
                      server_->target() + " & pid=$!; sleep 2; kill -INT $pid; wait $pid");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(Report());
  EXPECT_EQ(report["endReason"], "cancel");
  EXPECT_GT(report["count"].get<int64_t>(), 0);
  EXPECT_LT(report["count"].get<int64_t>(), 100000000);
}

TEST_F(LoadgenTest, WritesItsRequestAsOneGrpcFrame) {
  const std::string frame = work_.Join("frame.bin");
  auto r = RunCommand(kLoadgen + " --model " + kBinary + " --batch 2 --write-frame " + frame);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(frame, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 5u);
  EXPECT_EQ(bytes[0], 0);  // not compressed
  const auto byte = [&](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])); };
  const uint32_t length = byte(1) << 24 | byte(2) << 16 | byte(3) << 8 | byte(4);
  ASSERT_EQ(length, bytes.size() - 5);
  v1::ClassifyRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes.substr(5)));
  EXPECT_EQ(request.model().name(), kBinary);
  ASSERT_EQ(request.embeddings_size(), 2);
  EXPECT_EQ(request.embeddings(0).values_size(), kEmbeddingDim);
}

}  // namespace
}  // namespace arginator
