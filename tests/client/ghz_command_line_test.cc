// arginator-loadgen's command line against ghz's: flags, defaults, Go durations, precedence, the
// request given as JSON or binary, and every invalid input exiting 2.
#include "client/loadgen/ghz_command_line.h"

#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "arginator/v1/classifier.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator::client {
namespace {

// Parses `args` (after the program name) with `stdin_text` as standard input.
std::variant<LoadgenCommand, int> Parse(std::vector<std::string> args,
                                        const std::string& stdin_text = "") {
  args.insert(args.begin(), "arginator-loadgen");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(stdin_text);
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), in);
}

LoadgenCommand Ok(std::vector<std::string> args, const std::string& stdin_text = "") {
  auto parsed = Parse(std::move(args), stdin_text);
  if (const int* code = std::get_if<int>(&parsed)) {
    ADD_FAILURE() << "exited " << *code;
    return {};
  }
  return std::get<LoadgenCommand>(parsed);
}

int ExitCode(std::vector<std::string> args, const std::string& stdin_text = "") {
  auto parsed = Parse(std::move(args), stdin_text);
  return std::holds_alternative<int>(parsed) ? std::get<int>(parsed) : -1;
}

v1::ClassifyRequest Message(const LoadgenCommand& c, size_t i) {
  v1::ClassifyRequest r;
  EXPECT_TRUE(r.ParseFromString(c.load.messages.at(i)));
  return r;
}

TEST(GoDurationTest, ParsesGhzDurationsAndBareSeconds) {
  EXPECT_EQ(*ParseGoDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseGoDuration("1m"), absl::Minutes(1));
  EXPECT_EQ(*ParseGoDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("300µs"), absl::Microseconds(300));
  EXPECT_EQ(*ParseGoDuration("300us"), absl::Microseconds(300));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration("2.5"), absl::Milliseconds(2500));
  for (const char* bad : {"10x", "s", "", "-1s", "inf", "ten seconds"}) {
    EXPECT_FALSE(ParseGoDuration(bad).ok()) << bad;
  }
}

TEST(GhzCommandLineTest, DefaultsAreGhzs) {
  const LoadgenCommand c = Ok({"--model", "m", "localhost:1"});
  EXPECT_EQ(c.load.client.target, "localhost:1");
  EXPECT_EQ(c.load.concurrency, 50);
  EXPECT_EQ(c.load.total, 200);
  EXPECT_EQ(c.load.duration, absl::ZeroDuration());
  EXPECT_EQ(c.load.call.timeout, absl::Seconds(20));
  EXPECT_EQ(c.load.connect_timeout, absl::Seconds(10));
  EXPECT_EQ(c.load.connections, 1);
  EXPECT_TRUE(c.load.client.tls);  // TLS unless --insecure
  EXPECT_EQ(c.load.duration_stop, DurationStop::kClose);
  EXPECT_EQ(c.format, ReportFormat::kSummary);
  EXPECT_TRUE(c.output.empty());
  EXPECT_FALSE(c.load.stream);
  EXPECT_FALSE(c.load.details);
}

TEST(GhzCommandLineTest, GhzUsersCommandLineWorksUnchanged) {
  testing::TempDir dir;
  const std::string out = dir.Join("report.json");
  const LoadgenCommand c = Ok(
      {"--insecure",
       "--proto",
       std::string(ARGINATOR_SOURCE_DIR) + "/proto/arginator/v1/classifier.proto",
       "--call",
       "arginator.v1.Classifier/ClassifyStream",
       "-d",
       R"({"model":{"name":"betalactamase-binary"},"packedIds":["p1"],"packedValues":"AAAAAA=="})",
       "-c",
       "10",
       "-n",
       "1000",
       "-z",
       "10s",
       "-r",
       "100",
       "-t",
       "500ms",
       "-o",
       out,
       "-O",
       "json",
       "--connections",
       "2",
       "--skipFirst",
       "5",
       "--count-errors",
       "-m",
       R"({"k":"v"})",
       "--connect-timeout",
       "3s",
       "127.0.0.1:50051"});
  EXPECT_FALSE(c.load.client.tls);
  EXPECT_TRUE(c.load.stream);
  EXPECT_EQ(c.load.concurrency, 10);
  EXPECT_EQ(c.load.duration, absl::Seconds(10));  // -z wins over -n
  EXPECT_FALSE(c.meta.options.contains("total"));
  EXPECT_EQ(c.meta.options["duration"], int64_t{10000000000});
  EXPECT_EQ(c.load.rps, 100);
  EXPECT_EQ(c.load.call.timeout, absl::Milliseconds(500));
  EXPECT_EQ(c.load.connect_timeout, absl::Seconds(3));
  EXPECT_EQ(c.output, out);
  EXPECT_EQ(c.format, ReportFormat::kJson);
  EXPECT_EQ(c.load.connections, 2);
  EXPECT_EQ(c.load.skip_first, 5);
  EXPECT_TRUE(c.load.count_errors);
  ASSERT_EQ(c.load.call.metadata.size(), 1u);
  EXPECT_EQ(c.load.call.metadata[0], std::make_pair(std::string("k"), std::string("v")));
  ASSERT_EQ(c.load.messages.size(), 1u);
  const v1::ClassifyRequest r = Message(c, 0);
  EXPECT_EQ(r.model().name(), "betalactamase-binary");
  EXPECT_EQ(r.packed_ids(0), "p1");
  EXPECT_EQ(r.packed_values().size(), 4u);
}

TEST(GhzCommandLineTest, LettersMeanWhatTheyMeanInGhz) {
  // -b is --binary (the request from stdin), not a batch size.
  v1::ClassifyRequest request;
  request.mutable_model()->set_name("m");
  request.add_packed_ids("x");
  const LoadgenCommand b = Ok({"--insecure", "-b", "h:1"}, request.SerializeAsString());
  ASSERT_EQ(b.load.messages.size(), 1u);
  EXPECT_EQ(Message(b, 0).packed_ids(0), "x");
  EXPECT_EQ(b.meta.options["binary"], true);

  // -x caps a -n run; -n alone is a count; -O/-o/-t/-r/-c take their ghz values.
  const LoadgenCommand x = Ok({"--model", "m", "-n", "50", "-x", "1m", "-O", "pretty", "h:1"});
  EXPECT_EQ(x.load.total, 50);
  EXPECT_EQ(x.load.max_duration, absl::Minutes(1));
  EXPECT_EQ(x.format, ReportFormat::kPretty);

  // csv and influx-details list every request, so the run keeps them.
  EXPECT_TRUE(Ok({"--model", "m", "-O", "csv", "h:1"}).load.details);
  EXPECT_TRUE(Ok({"--model", "m", "--details", "h:1"}).load.details);

  // Our own options keep long names; --target is the positional host.
  const LoadgenCommand own = Ok({"--target", "h:2", "--model", "m", "--label", "canary", "--batch",
                                 "16", "--packed", "--threads", "3", "--warmup", "2s"});
  EXPECT_EQ(own.load.client.target, "h:2");
  EXPECT_EQ(*own.load.model.label, "canary");
  EXPECT_EQ(own.load.batch, 16);
  EXPECT_TRUE(own.load.packed);
  EXPECT_EQ(own.load.threads, 3);
  EXPECT_EQ(own.load.warmup, absl::Seconds(2));
  EXPECT_EQ(own.load.evidence, 0);
  EXPECT_EQ(Ok({"--model", "m", "--evidence", "5", "h:1"}).load.evidence, 5);
}

TEST(GhzCommandLineTest, RequestsComeFromJsonArraysStdinFilesAndDelimitedBinary) {
  testing::TempDir dir;
  // A JSON array: one message per element, sent round robin; --model overrides the model.
  const std::string array = R"([{"model":{"name":"a"}},{"model":{"name":"b"},"packedIds":["z"]}])";
  const LoadgenCommand d = Ok({"-d", array, "h:1"});
  ASSERT_EQ(d.load.messages.size(), 2u);
  EXPECT_EQ(Message(d, 1).model().name(), "b");
  EXPECT_EQ(d.meta.options["data"], nlohmann::json::parse(array));
  EXPECT_EQ(Ok({"-d", "@", "h:1"}, R"({"model":{"name":"s"}})").load.messages.size(), 1u);
  const std::string json_file = dir.Join("data.json");
  std::ofstream(json_file) << R"({"model":{"name":"f"}})";
  EXPECT_EQ(Message(Ok({"-D", json_file, "--model", "g", "h:1"}), 0).model().name(), "g");

  // -B: several length-delimited messages.
  std::string delimited;
  for (const char* name : {"one", "two", "three"}) {
    v1::ClassifyRequest r;
    r.mutable_model()->set_name(name);
    const std::string bytes = r.SerializeAsString();
    delimited += static_cast<char>(bytes.size());  // < 128: a one-byte varint
    delimited += bytes;
  }
  const std::string bin_file = dir.Join("data.bin");
  std::ofstream(bin_file, std::ios::binary) << delimited;
  const LoadgenCommand bin = Ok({"-B", bin_file, "h:1"});
  ASSERT_EQ(bin.load.messages.size(), 3u);
  EXPECT_EQ(Message(bin, 2).model().name(), "three");
}

TEST(GhzCommandLineTest, EveryInvalidInputExitsTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--model", "m", "-z", "10x", "h:1"},  // not a Go duration
      {"--model", "m", "-t", "-1s", "h:1"},  // negative
      {"--model", "m", "--call", "other.Service/Method", "h:1"},
      {"h:1"},  // no request at all
      {"-d", "{bad json", "h:1"},
      {"-d", R"({"noSuchField":1})", "h:1"},  // not a ClassifyRequest
      {"-d", "[]", "h:1"},
      {"-D", "/no/such/file.json", "h:1"},
      {"-B", "/no/such/file.bin", "h:1"},
      {"--model", "m", "--cert", "c.pem", "h:1"},  // cert without key
      {"--model", "m", "--insecure", "--cacert", "ca.pem", "h:1"},
      {"--model", "m", "-O", "html", "h:1"},
      {"--model", "m", "--no-such-flag", "h:1"},
      {"--model", "m", "-c", "0", "h:1"},
      {"--model", "m", "-m", R"({"k":1})", "h:1"},  // metadata values are strings
      {"--model", "m", "--tags", "[1]", "h:1"},
      {"-d", R"({"model":{"name":"a"}})", "--batch", "4", "h:1"},
      {"-d", R"({"model":{"name":"a"}})", "--evidence", "2", "h:1"},
      {"--model", "m", "--evidence", "51", "h:1"},  // the server's limit is 50
      {"--model", "m", "--label", "l", "--model-version", "2", "h:1"},
      {"--model", "m", "--proto", "/no/such.proto", "h:1"},
      {"--model", "m", "--stream", "--call", "arginator.v1.Classifier.Classify", "h:1"},
      {"--model", "m", "--target", "a:1", "b:2"},
  };
  for (const auto& args : bad) {
    EXPECT_EQ(ExitCode(args), 2) << absl::StrJoin(args, " ");
  }
  EXPECT_EQ(ExitCode({"-b", "h:1"}, ""), 2);              // empty binary data
  EXPECT_EQ(ExitCode({"-b", "h:1"}, "\xff\xff\xff"), 2);  // not a message
  EXPECT_EQ(ExitCode({"--help"}), 0);
  EXPECT_EQ(ExitCode({"--version"}), 0);
}

}  // namespace
}  // namespace arginator::client
