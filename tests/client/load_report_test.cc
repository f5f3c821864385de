// The load generator's report against ghz's: the JSON schema fixture, the histogram and
// percentiles as ghz computes them, and the other formats.
#include "client/loadgen/load_report.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/loadgen/ghz_command_line.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::client {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Fixture() {
  std::ifstream in(std::string(ARGINATOR_SOURCE_DIR) +
                   "/tests/client/fixtures/ghz_report_schema.json");
  return json::parse(in);
}

// A command line a ghz user would type for this service, every reported option set.
LoadgenCommand GhzUserCommand() {
  const std::string proto =
      std::string(ARGINATOR_SOURCE_DIR) + "/proto/arginator/v1/classifier.proto";
  const char* argv[] = {"arginator-loadgen",
                        "--insecure",
                        "--proto",
                        proto.c_str(),
                        "-i",
                        "proto",
                        "--call",
                        "arginator.v1.Classifier.Classify",
                        "-d",
                        R"({"model":{"name":"m"},"packedIds":["a"]})",
                        "-c",
                        "8",
                        "-n",
                        "1000",
                        "-t",
                        "2s",
                        "--connections",
                        "2",
                        "--skipFirst",
                        "3",
                        "--count-errors",
                        "--name",
                        "nightly",
                        "--tags",
                        R"({"env":"ci"})",
                        "-m",
                        R"({"x-team":"amr"})",
                        "-e",
                        "--keepalive",
                        "30s",
                        "-r",
                        "500",
                        "localhost:50051"};
  std::istringstream in;
  auto parsed = ParseCommandLine(std::size(argv), argv, in);
  EXPECT_TRUE(std::holds_alternative<LoadgenCommand>(parsed));
  return std::get<LoadgenCommand>(parsed);
}

// 100 OK requests of 1..100 ms and 5 errors of 500 ms (not in the latency statistics).
LoadReport SampleReport() {
  LoadReport r;
  r.end_reason = "normal";
  r.date = absl::FromUnixSeconds(1796000000);
  r.total = absl::Seconds(2);
  int64_t sum = 0;
  for (int ms = 1; ms <= 100; ++ms) {
    r.latencies.Record(int64_t{ms} * 1000000);
    sum += int64_t{ms} * 1000000;
    r.details.push_back(
        {r.date + absl::Milliseconds(ms), int64_t{ms} * 1000000, grpc::StatusCode::OK, ""});
  }
  const std::string error = GhzErrorString(grpc::Status(grpc::StatusCode::NOT_FOUND, "no, \"m\""));
  for (int i = 0; i < 5; ++i) {
    sum += 500000000;
    r.details.push_back({r.date + absl::Seconds(1), 500000000, grpc::StatusCode::NOT_FOUND, error});
  }
  r.count = 105;
  r.average_ns = sum / r.count;
  r.embeddings = 100;
  r.status_codes = {{"OK", 100}, {"NotFound", 5}};
  r.errors = {{error, 5}};
  return r;
}

std::string JsonType(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

// `value` has the fixture's type (an integer also reads as a number).
void ExpectType(const json& spec, const json& value, const std::string& where) {
  const std::string want = spec["type"], got = JsonType(value);
  if (want == "any" || got == want) return;
  if (want == "number" && got == "integer") return;
  if (got == "null" && spec.value("nullable", false)) return;
  ADD_FAILURE() << where << ": ghz has " << want << ", ours is " << got << " (" << value << ")";
}

// Every field of `ours` is one of ghz's (or a declared extension) with ghz's type, and every
// field ghz always writes is there.
void ExpectFields(const json& schema, const json& extensions, const json& ours,
                  const std::string& where) {
  for (const auto& [key, value] : ours.items()) {
    if (extensions.contains(key)) continue;
    ASSERT_TRUE(schema.contains(key)) << where << "." << key << " is not a ghz field";
    ExpectType(schema[key], value, where + "." + key);
  }
  for (const auto& [key, spec] : schema.items()) {
    if (!spec.value("omitempty", false)) {
      EXPECT_TRUE(ours.contains(key)) << where << "." << key;
    }
  }
}

TEST(LoadReportTest, JsonReadsAsGhzReportFieldForField) {
  const json fixture = Fixture();
  const LoadgenCommand command = GhzUserCommand();
  const json ours = GhzJson(SampleReport(), command.meta);

  ExpectFields(fixture["report"], fixture["extensions"]["report"], ours, "report");
  ExpectFields(fixture["options"], fixture["extensions"]["options"], ours["options"], "options");
  for (const auto& item : ours["latencyDistribution"]) {
    ExpectFields(fixture["latencyDistribution"]["item"], json::object(), item, "latency");
  }
  for (const auto& item : ours["histogram"]) {
    ExpectFields(fixture["histogram"]["item"], json::object(), item, "histogram");
  }
  for (const auto& item : ours["details"]) {
    ExpectFields(fixture["details"]["item"], json::object(), item, "details");
  }
  EXPECT_THAT(fixture["report"]["endReason"]["enum"], ::testing::Contains(ours["endReason"]));

  // Units: nanoseconds for durations, seconds for histogram marks.
  EXPECT_EQ(ours["total"], 2000000000);
  EXPECT_EQ(ours["fastest"], 1000000);  // the errors (500 ms) are not counted...
  EXPECT_EQ(ours["slowest"], 100000000);
  EXPECT_EQ(ours["average"], (5050 + 2500) * int64_t{1000000} / 105);  // ...but the average is
  EXPECT_DOUBLE_EQ(ours["rps"].get<double>(), 52.5);
  EXPECT_DOUBLE_EQ(ours["histogram"].back()["mark"].get<double>(), 0.1);
  EXPECT_EQ(ours["date"], "2026-11-30T00:53:20Z");
  EXPECT_TRUE(std::regex_match(ours["details"][0]["timestamp"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));
  EXPECT_EQ(ours["details"][0]["latency"], 1000000);
  EXPECT_EQ(ours["details"].size(), 105u);

  // ghz's percentages, as integers; the latencies of the OK requests (nearest rank).
  std::vector<int> percentages;
  for (const auto& item : ours["latencyDistribution"]) {
    percentages.push_back(item["percentage"]);
    const int64_t want = item["percentage"].get<int64_t>() * 1000000;
    EXPECT_NEAR(item["latency"].get<double>(), want, want * LatencyHistogram::kRelativePrecision);
  }
  EXPECT_EQ(json(percentages), fixture["latencyDistribution"]["percentages"]);

  // Status keys are Go's code names; error keys grpc-go's error strings.
  for (const auto& [code, n] : ours["statusCodeDistribution"].items()) {
    EXPECT_THAT(fixture["goCodeNames"], ::testing::Contains(code));
  }
  EXPECT_EQ(ours["errorDistribution"]["rpc error: code = NotFound desc = no, \"m\""], 5);

  // The options echo what the ghz command line set.
  const json& o = ours["options"];
  EXPECT_EQ(o["call"], "arginator.v1.Classifier.Classify");
  EXPECT_EQ(o["host"], "localhost:50051");
  EXPECT_EQ(o["insecure"], true);
  EXPECT_EQ(o["concurrency"], 8);
  EXPECT_EQ(o["total"], 1000);
  EXPECT_EQ(o["rps"], 500);
  EXPECT_EQ(o["timeout"], 2000000000);
  EXPECT_EQ(o["keepalive"], int64_t{30000000000});
  EXPECT_EQ(o["connections"], 2);
  EXPECT_EQ(o["skipFirst"], 3);
  EXPECT_EQ(o["count-errors"], true);
  EXPECT_EQ(o["enable-compression"], true);
  EXPECT_EQ(o["import-paths"], json::array({"proto"}));
  EXPECT_EQ(o["data"]["model"]["name"], "m");
  EXPECT_EQ(o["metadata"]["x-team"], "amr");
  EXPECT_EQ(o["name"], "nightly");
  EXPECT_EQ(ours["name"], "nightly");
  EXPECT_EQ(ours["tags"]["env"], "ci");
}

TEST(LoadReportTest, NoCountedLatenciesGiveNullDistributionsAsGhz) {
  LoadReport r;
  r.count = 3;
  r.end_reason = "normal";
  r.status_codes = {{"Unavailable", 3}};
  const json ours = GhzJson(r, ReportMeta{});
  EXPECT_TRUE(ours["latencyDistribution"].is_null());
  EXPECT_TRUE(ours["histogram"].is_null());
  EXPECT_TRUE(ours["details"].is_null());
  EXPECT_EQ(ours["fastest"], 0);
  EXPECT_FALSE(ours.contains("name"));
  EXPECT_FALSE(ours.contains("tags"));
}

TEST(LoadReportTest, HistogramHasGhzElevenMarksAndCountsEveryCountedRequest) {
  const json h = GhzJson(SampleReport(), ReportMeta{})["histogram"];
  ASSERT_EQ(h.size(), 11u);
  int64_t total = 0;
  double frequency = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    // fastest + i * (slowest - fastest) / 10: 1 ms, 10.9 ms, ..., 100 ms.
    EXPECT_NEAR(h[i]["mark"].get<double>(), 0.001 + i * 0.0099, 1e-12) << i;
    total += h[i]["count"].get<int64_t>();
    frequency += h[i]["frequency"].get<double>();
  }
  EXPECT_EQ(total, 100);  // the OK requests only
  EXPECT_NEAR(frequency, 1.0, 1e-9);
  EXPECT_EQ(h[0]["count"], 1);  // only the fastest is <= the first mark
}

TEST(LoadReportTest, FormatsSummaryCsvPrometheusAndInflux) {
  const LoadgenCommand command = GhzUserCommand();
  const LoadReport r = SampleReport();

  const std::string summary = FormatReport(r, command.meta, ReportFormat::kSummary);
  for (const char* line : {"Summary:", "  Name:\t\tnightly", "  Count:\t105", "  Total:\t2.00 s",
                           "  Slowest:\t100.00 ms", "  Fastest:\t1.00 ms", "  Requests/sec:\t52.50",
                           "Response time histogram:", "Latency distribution:", "  99 % in ",
                           "  [OK]   100 responses", "  [NotFound]   5 responses",
                           "Error distribution:", "  [5]   rpc error: code = NotFound"}) {
    EXPECT_THAT(summary, HasSubstr(line));
  }

  // One row per request; an error with a comma and quotes survives as one RFC 4180 field.
  const std::string csv = FormatReport(r, command.meta, ReportFormat::kCsv);
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 106u);
  EXPECT_EQ(lines[0], "duration (ms),status,error,timestamp");
  EXPECT_THAT(lines[1], ::testing::StartsWith("1.00,OK,,"));
  EXPECT_THAT(lines[105],
              ::testing::StartsWith(
                  "500.00,NotFound,\"rpc error: code = NotFound desc = no, \"\"m\"\"\","));

  // Prometheus text: every sample line is name{labels} value; cumulative buckets end at +Inf.
  const std::string prom = FormatReport(r, command.meta, ReportFormat::kPrometheus);
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\} -?[0-9.e+]+$)");
  for (const auto& line : absl::StrSplit(prom, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(std::string(line), sample)) << line;
  }
  for (const char* metric : {"ghz_run_count{", "ghz_run_total{", "ghz_run_average{",
                             "ghz_run_fastest{", "ghz_run_slowest{", "ghz_run_rps{",
                             "ghz_run_histogram_bucket{", "ghz_run_latency{", "ghz_run_errors{"}) {
    EXPECT_THAT(prom, HasSubstr(metric));
  }
  EXPECT_THAT(prom, HasSubstr("name=\"nightly\",end_reason=\"normal\""));
  EXPECT_THAT(prom, ::testing::ContainsRegex("le=\"\\+Inf\"\\} 100\n"));
  EXPECT_THAT(prom, ::testing::ContainsRegex("ghz_run_errors\\{[^}]*\\} 5\n"));

  const std::string influx = FormatReport(r, command.meta, ReportFormat::kInfluxSummary);
  EXPECT_THAT(influx, ::testing::StartsWith("ghz_run,name=\"nightly\",proto=\""));
  EXPECT_THAT(influx,
              HasSubstr(",call=\"arginator.v1.Classifier.Classify\",host=\"localhost:50051\","
                        "n=1000,c=8,rps=500,z=0,timeout=2,dial_timeout=10,keepalive=30,"));
  EXPECT_THAT(influx, HasSubstr(",errors=5,has_errors=true count=105,total=2000000000,"));
  EXPECT_THAT(influx, ::testing::EndsWith(" 1796000000000000000\n"));
  const std::string details = FormatReport(r, command.meta, ReportFormat::kInfluxDetails);
  std::vector<std::string> rows = absl::StrSplit(details, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 105u);
  EXPECT_THAT(rows[0], HasSubstr(",hasError=false latency=1000000,error=\"\",status=\"OK\" "));
  EXPECT_THAT(rows[104], HasSubstr("error=\"rpc error: code = NotFound desc = no, \\\"m\\\"\""));
}

}  // namespace
}  // namespace arginator::client
