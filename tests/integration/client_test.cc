// arginator-client, arginator-loadgen and the C++ client library against the real server.
#include <fstream>

#include "absl/strings/str_split.h"
#include "client/arginator_client.h"
#include "common/embedding_files.h"
#include "common/hdf5_embeddings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/served_models_fixture.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;
using testing::kBinary;
using testing::kClass;
using testing::RunCommand;

const std::string kClient = ARGINATOR_CLIENT_BIN;
const std::string kLoadgen = ARGINATOR_LOADGEN_BIN;

class ClientTest : public testing::ServedModelsTest {
 protected:
  // The golden embeddings of `card` as a matrix: their expected labels are known.
  static EmbeddingMatrix Golden(const ModelCard& card) {
    EmbeddingMatrix m;
    for (const auto& g : card.golden) {
      m.ids.push_back(g.id);
      m.values.insert(m.values.end(), g.input.begin(), g.input.end());
    }
    return m;
  }
  static std::vector<std::string> ReadLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::string Client(const std::string& args) {
    return kClient + " " + args + " --target " + server_->target();
  }
};

TEST_F(ClientTest, ClassifiesEveryInputFormatIntoCsvAndJsonl) {
  StartServer();
  const ModelCard card = Card(kClass, 1);
  const EmbeddingMatrix golden = Golden(card);
  ASSERT_TRUE(WriteEmbeddingsH5(work_.Join("in.h5"), golden).ok());
  ASSERT_TRUE(WriteEmbeddingsCsv(work_.Join("in.csv"), golden).ok());
  ASSERT_TRUE(WriteEmbeddingsNpy(work_.Join("in.npy"), golden).ok());
  for (const char* input : {"in.h5", "in.csv", "in.npy"}) {
    auto r = RunCommand(Client("classify --model " + std::string(kClass) + " --input " +
                               work_.Join(input) + " --output " + work_.Join("out.csv")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("classified 8 embeddings"));
    EXPECT_THAT(r.output, HasSubstr("out_of_distribution"));
    auto lines = ReadLines(work_.Join("out.csv"));
    ASSERT_EQ(lines.size(), golden.rows() + 1) << input;
    EXPECT_EQ(lines[0],
              "id,label,score,out_of_distribution,prob_class_A,prob_class_B,prob_class_C,"
              "prob_class_D,prob_non_betalactamase");
    std::map<std::string, std::string> expected;
    for (const auto& g : card.golden) {
      expected[g.id] =
          card.labels[std::max_element(g.probabilities.begin(), g.probabilities.end()) -
                      g.probabilities.begin()];
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> fields = absl::StrSplit(lines[i], ',');
      ASSERT_EQ(fields.size(), 9u);
      EXPECT_EQ(fields[1], expected[fields[0]]) << input << " " << fields[0];
    }
  }
  auto jsonl = RunCommand(Client("classify --model " + std::string(kBinary) + " --input " +
                                 work_.Join("in.npy") + " --format jsonl --output " +
                                 work_.Join("out.jsonl")));
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.output;
  auto lines = ReadLines(work_.Join("out.jsonl"));
  ASSERT_EQ(lines.size(), golden.rows());
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["model"], kBinary);
  EXPECT_TRUE(first["probabilities"].contains("betalactamase"));
}

// Issue 13: `--output -` wrote a file named "-", and without --output the client silently wrote
// ./results.csv. "-" is standard output now (the summary stays on stderr), and --output is
// required.
TEST_F(ClientTest, OutputDashIsStandardOutputAndOutputIsRequired) {
  StartServer();
  const ModelCard card = Card(kBinary, 1);
  ASSERT_TRUE(WriteEmbeddingsCsv(work_.Join("in.csv"), Golden(card)).ok());
  const std::string in_work = "cd " + work_.path() + " && " + kClient + " classify --model " +
                              kBinary + " --input in.csv --target " + server_->target();
  auto r = RunCommand("(" + in_work + " --output - 2>/dev/null)");  // stdout alone
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("id,label,score,out_of_distribution", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'),
            static_cast<std::ptrdiff_t>(card.golden.size() + 1));
  EXPECT_FALSE(std::filesystem::exists(work_.Join("-")));
  r = RunCommand(in_work);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--output"));
  EXPECT_FALSE(std::filesystem::exists(work_.Join("results.csv")));
}

TEST_F(ClientTest, LargeInputsStreamInOrder) {
  StartServer();
  const std::string data = shared_->Join("data/non_betalactamase_embeddings_60k.h5");
  auto input = ReadEmbeddingsH5(data);
  ASSERT_TRUE(input.ok());
  auto r = RunCommand(Client("classify --model " + std::string(kBinary) + " --input " + data +
                             " --batch 37 --stream always --output " + work_.Join("out.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ClassifyStream"));
  auto lines = ReadLines(work_.Join("out.csv"));
  ASSERT_EQ(lines.size(), input->rows() + 1);
  for (size_t i = 0; i < input->rows(); ++i) {
    EXPECT_EQ(lines[i + 1].substr(0, lines[i + 1].find(',')), input->ids[i]);
  }
}

TEST_F(ClientTest, BadFilesAndBadRequestsFailWithTheReason) {
  StartServer();
  std::ofstream(work_.Join("bad.csv")) << "P1,1,2,3\n";
  auto bad_file = RunCommand(Client("classify --model " + std::string(kBinary) + " --input " +
                                    work_.Join("bad.csv") + " --output " + work_.Join("o.csv")));
  EXPECT_EQ(bad_file.exit_code, 2);
  EXPECT_THAT(bad_file.output, HasSubstr("bad.csv: line 1 has 3 values"));
  auto unknown = RunCommand(Client("classify --model nope --input " +
                                   shared_->Join("data/card_class_a_embeddings.h5") + " --output " +
                                   work_.Join("o.csv")));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("model 'nope' is not served"));
}

TEST_F(ClientTest, ModelsMetadataAndHealth) {
  StartServer();
  auto models = RunCommand(Client("models"));
  ASSERT_EQ(models.exit_code, 0) << models.output;
  EXPECT_THAT(models.output, HasSubstr("betalactamase-binary     binary      1        READY"));
  auto metadata = RunCommand(Client("metadata --model " + std::string(kClass)));
  ASSERT_EQ(metadata.exit_code, 0) << metadata.output;
  EXPECT_THAT(metadata.output, HasSubstr("labels:      class_A, class_B, class_C, class_D"));
  auto health = RunCommand(Client("health"));
  EXPECT_EQ(health.exit_code, 0);
  EXPECT_THAT(health.output, HasSubstr("SERVING"));
  auto unknown = RunCommand(Client("health --service no-such-model"));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.output, HasSubstr("SERVICE_UNKNOWN"));
}

TEST_F(ClientTest, LoadgenCountsAddUpAndErrorsAreCounted) {
  StartServer();
  auto ok = RunCommand(kLoadgen + " --target " + server_->target() + " --model " + kBinary +
                       " -c 4 --total 200 --batch 3 --packed --format json");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  auto report = nlohmann::json::parse(ok.output);
  EXPECT_EQ(report["count"], 200);
  EXPECT_EQ(report["statusCodeDistribution"]["OK"], 200);
  EXPECT_GT(report["rps"].get<double>(), 0);
  EXPECT_NEAR(report["embeddingsPerSecond"].get<double>(), 3 * report["rps"].get<double>(), 1e-6);
  for (const char* key : {"total", "average", "fastest", "slowest", "latencyDistribution"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_LE(report["fastest"].get<int64_t>(), report["slowest"].get<int64_t>());

  auto errors = RunCommand(kLoadgen + " --target " + server_->target() +
                           " --model nope -c 2 --total 50 --format json");
  ASSERT_EQ(errors.exit_code, 0) << errors.output;
  auto error_report = nlohmann::json::parse(errors.output);
  EXPECT_EQ(error_report["statusCodeDistribution"]["NOT_FOUND"], 50);
  EXPECT_EQ(error_report["count"], 50);
}

TEST_F(ClientTest, LoadgenWorkersOnSeveralConnectionsStopAtExactlyTheTotal) {
  StartServer();
  for (const char* call : {"", " --stream"}) {
    auto r = RunCommand(kLoadgen + " --target " + server_->target() + " --model " + kBinary +
                        " -c 12 --connections 3 --threads 2 --total 500 --format json" + call);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto report = nlohmann::json::parse(r.output);
    EXPECT_EQ(report["count"], 500) << call;
    EXPECT_EQ(report["statusCodeDistribution"]["OK"], 500) << call;
    EXPECT_EQ(report["options"]["connections"], 3);
  }
}

TEST_F(ClientTest, LoadgenWritesItsRequestAsOneGrpcFrame) {
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

TEST_F(ClientTest, LoadgenStreamSendsItsRequestsOverClassifyStream) {
  StartServer();
  auto ok = RunCommand(kLoadgen + " --target " + server_->target() + " --model " + kBinary +
                       " -c 3 --total 90 --batch 2 --stream --format json");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  auto report = nlohmann::json::parse(ok.output);
  EXPECT_EQ(report["count"], 90);
  EXPECT_EQ(report["statusCodeDistribution"]["OK"], 90);
  EXPECT_EQ(report["options"]["call"], "arginator.v1.Classifier.ClassifyStream");
  EXPECT_NEAR(report["embeddingsPerSecond"].get<double>(), 2 * report["rps"].get<double>(), 1e-6);
  // The server counted them as stream messages, not as unary calls.
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr(
                  "arginator_requests_total{code=\"OK\",method=\"ClassifyStream\","
                  "model=\"betalactamase-binary\",protocol=\"arginator.v1\",version=\"1\"} 90"));

  // A message's error is that message's status; the stream goes on serving the next ones.
  auto errors = RunCommand(kLoadgen + " --target " + server_->target() +
                           " --model nope -c 2 --total 20 --stream --format json");
  ASSERT_EQ(errors.exit_code, 0) << errors.output;
  auto error_report = nlohmann::json::parse(errors.output);
  EXPECT_EQ(error_report["statusCodeDistribution"]["NOT_FOUND"], 20);
}

TEST_F(ClientTest, LoadgenOpenLoopHoldsItsRate) {
  StartServer();
  auto r = RunCommand(kLoadgen + " --target " + server_->target() + " --model " + kBinary +
                      " -c 8 --rps 200 --duration 2 --warmup 0.5 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(r.output);
  // 200 req/s for 2 s: the schedule, not the server's speed, sets the count.
  EXPECT_NEAR(report["count"].get<double>(), 400, 40);
  EXPECT_NEAR(report["rps"].get<double>(), 200, 25);
}

TEST_F(ClientTest, LibraryRetriesUnavailableWithBackoffThenGivesUp) {
  client::ClientOptions options;
  options.target = "127.0.0.1:1";  // nothing listens there
  options.max_attempts = 3;
  options.initial_backoff = absl::Milliseconds(100);
  options.deadline = absl::Seconds(5);
  auto c = client::ArginatorClient::Create(options);
  ASSERT_TRUE(c.ok());
  const absl::Time start = absl::Now();
  auto models = (*c)->ListModels();
  EXPECT_EQ(models.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));  // it waited between attempts
}

TEST_F(ClientTest, PythonExampleClassifiesAFile) {
  StartServer();
  const std::string input = shared_->Join("data/card_class_a_embeddings.h5");
  auto r =
      RunCommand("/usr/bin/python3 " + testing::kSource + "/client/python/classify.py --stubs " +
                 ARGINATOR_PYTHON_STUBS + " --target " + server_->target() + " --model " + kBinary +
                 " --input " + input + " --batch 16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto expected = ReadEmbeddingsH5(input);
  ASSERT_TRUE(expected.ok());
  EXPECT_THAT(r.output, HasSubstr("id,label,score,out_of_distribution"));
  EXPECT_THAT(r.output, HasSubstr(expected->ids[0] + ",betalactamase,"));
  EXPECT_THAT(r.output, HasSubstr("classified " + std::to_string(expected->rows()) +
                                  " embeddings with betalactamase-binary v1"));
}

}  // namespace
}  // namespace arginator
