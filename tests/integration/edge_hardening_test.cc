// Issue 23's defects against the real server: requests that crashed it (invalid UTF-8, deep
// JSON), memory past its limits (chunked, compressed and header-heavy requests, JSON
// amplification, gRPC gzip), slow clients locking out probes, labels over the name limit, and
// admin version numbers. Each test failed before its fix; each ends by checking that the server
// still serves.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <future>

#include "gmock/gmock.h"
#include "tests/integration/served_models_fixture.h"
#include "tests/testing/raw_http.h"

namespace arginator::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

struct RawAnswer {
  int status = -1;
  std::string head, body;
};

class EdgeHardeningTest : public ServedModelsTest {
 protected:
  int Connect(int port) {
    const int fd = ConnectLoopback(port);
    EXPECT_GE(fd, 0);
    return fd;
  }
  static void Send(int fd, const std::string& bytes) { SendAll(fd, bytes); }
  static RawAnswer ReadAnswer(int fd, double seconds = 20) {
    std::string out;
    char buf[65536];
    const auto start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      const size_t end = out.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      std::smatch m;
      const std::string head = out.substr(0, end);
      if (std::regex_search(head, m, std::regex("Content-Length: (\\d+)", std::regex::icase)) &&
          out.size() >= end + 4 + std::stoul(m[1])) {
        break;
      }
    }
    ::close(fd);
    RawAnswer a;
    const size_t end = out.find("\r\n\r\n");
    if (out.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return a;
    a.status = std::stoi(out.substr(9, 3));
    a.head = out.substr(0, end);
    a.body = out.substr(end + 4);
    return a;
  }
  // One raw request on the REST port: the target goes out exactly as given.
  RawAnswer Rest(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& headers = "") {
    const int fd = Connect(server_->rest_port());
    Send(fd, method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers +
                 (body.empty() && method == "GET"
                      ? ""
                      : "Content-Length: " + std::to_string(body.size()) + "\r\n") +
                 "\r\n" + body);
    return ReadAnswer(fd);
  }
  // The answer's error, checking the body is valid UTF-8 JSON (the strict parser refuses
  // anything else).
  static std::string ErrorOf(const RawAnswer& a) {
    nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not valid JSON: " << a.body.substr(0, 200);
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "";
  }
  std::string InferBody(const nlohmann::json& input_extra, const std::string& name = "embedding",
                        const std::string& datatype = "FP32") {
    const ModelCard card = Card(kBinary, 1);
    nlohmann::json input = {{"name", name},
                            {"datatype", datatype},
                            {"shape", {1, card.input_dim}},
                            {"data", card.golden[0].input}};
    if (input_extra.is_object()) input.update(input_extra);
    return nlohmann::json{{"inputs", {input}}}.dump();
  }
  std::string InferPath() { return std::string("/v2/models/") + kBinary + "/infer"; }
  // Still answering on every port.
  void ExpectServing() {
    ASSERT_TRUE(server_->Running()) << server_->Log();
    EXPECT_EQ(Rest("GET", "/v2/health/ready").status, 200);
    EXPECT_EQ(Rest("POST", InferPath(), InferBody({})).status, 200);
    v1::ClassifyResponse resp;
    EXPECT_TRUE(Classify(GoldenRequest(Card(kBinary, 1)), &resp).ok());
  }
  // Peak resident memory of the server so far (VmHWM), in bytes.
  int64_t PeakRss() {
    std::ifstream status("/proc/" + std::to_string(server_->pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    }
    return -1;
  }
};

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Item 1: the 404 body for an unknown path was built outside cpp-httplib's try/catch, and an
// invalid UTF-8 byte (or a cut inside a character) in it aborted the process.
TEST_F(EdgeHardeningTest, InvalidUtf8InAPathIsAValidJsonErrorNotACrash) {
  StartServer();
  RawAnswer a = Rest("GET", "/v2/%FF");
  EXPECT_EQ(a.status, 404);
  EXPECT_THAT(ErrorOf(a), HasSubstr("no such endpoint"));
  a = Rest("GET", "/v2/x" + Repeat("%C3%A9", 200));  // the 256-byte cut once split a character
  EXPECT_EQ(a.status, 404);
  ErrorOf(a);
  a = Rest("GET", "/v2/models/%FF");
  EXPECT_EQ(a.status, 404);
  EXPECT_THAT(ErrorOf(a), HasSubstr("is not served"));
  a = Rest("POST", "/v2/models/%FF/infer", InferBody({}));
  EXPECT_EQ(a.status, 404);
  ErrorOf(a);
  a = Rest("GET", std::string("/v2/models/") + kBinary + "/versions/%FF/ready");
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(ErrorOf(a), HasSubstr("is not a positive integer"));
  EXPECT_EQ(Rest("GET", "/v2/models/%G1").status, 400);  // a malformed escape
  ExpectServing();
}

// Item 1: names of 201 two-byte characters were cut inside one in the error, which then threw
// (500 with cpp-httplib's EXCEPTION_WHAT header).
TEST_F(EdgeHardeningTest, LongMultibyteNamesAreCutOnCharacterBoundaries) {
  StartServer();
  const std::string long_name = "a" + Repeat("\xc3\xa9", 200);
  nlohmann::json with_output = nlohmann::json::parse(InferBody({}));
  with_output["outputs"] = {{{"name", long_name}}};
  for (const std::string& body :
       {InferBody({}, long_name), InferBody({}, "embedding", long_name), with_output.dump()}) {
    RawAnswer a = Rest("POST", InferPath(), body);
    EXPECT_EQ(a.status, 400) << a.body;
    EXPECT_THAT(a.head, ::testing::Not(HasSubstr("EXCEPTION_WHAT")));
    ErrorOf(a);
  }
  ExpectServing();
}

// Item 2: a data element 100,000 levels deep (200 KB) and parameters 1,000,000 deep (2 MB)
// overflowed the stack (SIGSEGV).
TEST_F(EdgeHardeningTest, DeeplyNestedJsonIsRefusedWithoutOverflowingTheStack) {
  StartServer();
  const ModelCard card = Card(kBinary, 1);
  const std::string deep_data =
      "{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  std::string body =
      "{\"inputs\": [{\"name\": \"embedding\", \"datatype\": \"FP32\", \"shape\": [1, " +
      std::to_string(card.input_dim) + "], \"data\": [" + deep_data + "]}]}";
  RawAnswer a = Rest("POST", InferPath(), body);
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(ErrorOf(a), HasSubstr("nested more than 32 deep"));
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  body = InferBody({});
  body.insert(body.find("\"name\""), "\"parameters\": {\"x\": " + deep + "}, ");
  a = Rest("POST", InferPath(), body);
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(ErrorOf(a), HasSubstr("nested more than 32 deep"));
  ExpectServing();
}

// Item 3: a 60 MB nested array under an unused key cost 3.09 GB at peak (~50x).
TEST_F(EdgeHardeningTest, JsonAmplificationIsBoundedByTheValueLimits) {
  StartServer();
  const int64_t before = PeakRss();
  std::string body = InferBody({});
  body.insert(1, "\"junk\": [" + Repeat("[0],", 15 << 20) + "[0]], ");  // 60 MB
  RawAnswer a = Rest("POST", InferPath(), body);
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(ErrorOf(a), HasSubstr("arrays and objects"));
  EXPECT_LT(PeakRss() - before, int64_t{400} << 20) << "peak RSS grew past the body and a bit";
  ExpectServing();
}

// Item 3: max_request_bytes was not enforced for chunked or gzip bodies, and a Content-Length
// over it was answered 400 after waiting for the body.
TEST_F(EdgeHardeningTest, BodiesPastTheLimitAre413HoweverTheyArrive) {
  StartServer({"--set", "rest.max_request_bytes=1048576"});
  const int64_t before = PeakRss();
  int fd = Connect(server_->rest_port());
  Send(fd, "POST " + InferPath() + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk = "100000\r\n" + std::string(1 << 20, ' ') + "\r\n";
  for (int i = 0; i < 100; ++i) Send(fd, chunk);  // 100 MB of whitespace around nothing
  EXPECT_EQ(ReadAnswer(fd).status, 413);

  const std::string bomb = Gzip(std::string(100 << 20, ' '));  // 100 MB in ~100 KB
  RawAnswer a = Rest("POST", InferPath(), bomb, "Content-Encoding: gzip\r\n");
  EXPECT_EQ(a.status, 413);
  EXPECT_THAT(ErrorOf(a), HasSubstr("1048576 bytes"));
  EXPECT_EQ(Rest("POST", InferPath(), Gzip(InferBody({})), "Content-Encoding: gzip\r\n").status,
            200);

  fd = Connect(server_->rest_port());  // the header alone: refused before any body
  const auto start = Clock::now();
  Send(fd, "POST " + InferPath() + " HTTP/1.1\r\nHost: x\r\nContent-Length: 73400320\r\n\r\n");
  EXPECT_EQ(ReadAnswer(fd, 5).status, 413);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 2.0);
  EXPECT_LT(PeakRss() - before, int64_t{64} << 20);
  ExpectServing();
}

// Item 3: 10,000 headers were accepted, 100 MB of them kept.
TEST_F(EdgeHardeningTest, HeadersPastTheirLimitsAre431) {
  StartServer();
  std::string headers;
  for (int i = 0; i < 10000; ++i) headers += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(Rest("GET", "/v2", "", headers).status, 431);
  EXPECT_EQ(Rest("GET", "/v2", "", "X-Big: " + std::string(1 << 20, 'a') + "\r\n").status, 431);
  ExpectServing();
}

// Item 5: ten connections sending a header byte a second held all 8 REST threads for 50 s, and
// keep-alive connections kept new clients out; readiness probes go through these ports.
TEST_F(EdgeHardeningTest, SlowAndIdleClientsDoNotLockOutProbesOrScrapes) {
  StartServer();
  std::vector<int> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(Connect(server_->rest_port()));
    Send(held.back(), "GET /v2 HTTP/1.1\r\nHo");
    held.push_back(Connect(server_->metrics_port()));
    Send(held.back(), "GET /metrics HTTP/1.1\r\nHo");
  }
  for (int i = 0; i < 16; ++i) {  // keep-alive connections, idle after one request each
    held.push_back(Connect(server_->rest_port()));
    Send(held.back(), "GET /v2 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = Clock::now();
  EXPECT_EQ(Rest("GET", "/v2/health/ready").status, 200);
  httplib::Client metrics("127.0.0.1", server_->metrics_port());
  auto scrape = metrics.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(scrape->status, 200);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 1.0);
  for (int fd : held) ::close(fd);
  ExpectServing();
}

// Item 4: a 239 KB gzip Classify inflating to 245 MB raised peak RSS by 634 MB before its
// refusal; the receive limit now follows max_embeddings_per_request x max_input_dim (22 MB).
TEST_F(EdgeHardeningTest, ACompressedGrpcBombIsRefusedBeforeItInflates) {
  StartServer();
  const int64_t before = PeakRss();
  v1::ClassifyRequest req;
  req.mutable_model()->set_name(kBinary);
  req.set_packed_values(std::string(64 << 20, '\0'));  // 16,384 rows of zeros
  grpc::ClientContext ctx;
  ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  v1::ClassifyResponse resp;
  grpc::Status s = stub_->Classify(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_LT(PeakRss() - before, int64_t{200} << 20) << "634 MB before the limit followed the rows";
  ExpectServing();
}

// Item 6: a 257-byte (or 1 MB) label was accepted and written to labels.json, which the server
// then refused to read back: after a restart every label of the model was gone.
TEST_F(EdgeHardeningTest, LabelsObeyTheNameLimitAndSurviveARestart) {
  const std::vector<std::string> admin = {"--set", "admin.enabled=true", "--set",
                                          std::string("admin.token=") + kAdminToken};
  StartServer(admin);
  ASSERT_TRUE(AdminSetLabel(kBinary, "stable", 1).ok());
  for (const std::string& label : {std::string(257, 'l'), std::string(1 << 20, 'l')}) {
    grpc::Status s = AdminSetLabel(kBinary, label, 1);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("1 to 256 bytes"));
  }
  EXPECT_TRUE(AdminSetLabel(kBinary, std::string(256, 'l'), 1).ok());
  server_->Stop();
  StartServer(admin);
  v1::ClassifyRequest req = GoldenRequest(Card(kBinary, 1));
  req.mutable_model()->set_version_label("stable");
  v1::ClassifyResponse resp;
  grpc::Status s = Classify(req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << server_->Log();
}

// Item 9: a dangling labels.json symlink cleared every label of the model.
TEST_F(EdgeHardeningTest, ADanglingLabelsLinkKeepsTheLabels) {
  StartServer({"--set", "admin.enabled=true", "--set", std::string("admin.token=") + kAdminToken});
  ASSERT_TRUE(AdminSetLabel(kBinary, "stable", 1).ok());
  const std::string labels = work_.Join(std::string("models/") + kBinary + "/labels.json");
  fs::remove(labels);
  fs::create_symlink(work_.Join("nowhere.json"), labels);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // several polls
  v1::ClassifyRequest req = GoldenRequest(Card(kBinary, 1));
  req.mutable_model()->set_version_label("stable");
  v1::ClassifyResponse resp;
  grpc::Status s = Classify(req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(server_->Log(), HasSubstr("ignoring version labels"));
}

// Item 8: Load/Unload of version 0 or -1 answered NOT_FOUND, SetVersionLabel to -1
// FAILED_PRECONDITION; a bad argument is INVALID_ARGUMENT as in Classify.
TEST_F(EdgeHardeningTest, AdminVersionsThatAreNotVersionsAreInvalidArguments) {
  StartServer({"--set", "admin.enabled=true", "--set", std::string("admin.token=") + kAdminToken});
  auto stub = v1::ModelAdmin::NewStub(channel_);
  for (int64_t version : {0, -1}) {
    EXPECT_EQ(AdminLoadVersion(kBinary, version).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    v1::UnloadVersionRequest unload;
    unload.set_name(kBinary);
    unload.set_version(version);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    v1::AdminResponse resp;
    EXPECT_EQ(stub->UnloadVersion(&ctx, unload, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(AdminSetLabel(kBinary, "stable", -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectServing();
}

// Item 8: a request that did not parse got UNIMPLEMENTED with an empty message (gRPC's typed
// callback handler) on every RPC but Classify; now INVALID_ARGUMENT naming the request type.
TEST_F(EdgeHardeningTest, AMalformedProtobufIsInvalidArgumentOnEveryRpc) {
  StartServer({"--set", "admin.enabled=true", "--set", std::string("admin.token=") + kAdminToken});
  grpc::GenericStub generic(channel_);
  auto call = [&](const std::string& method) {
    const std::string malformed(
        "\x0a\x05"
        "ab");  // field 1: 5 bytes announced, 2 sent
    grpc::Slice slice(malformed.data(), malformed.size());
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  };
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"/inference.GRPCInferenceService/ServerLive", "inference.ServerLiveRequest"},
      {"/inference.GRPCInferenceService/ServerReady", "inference.ServerReadyRequest"},
      {"/inference.GRPCInferenceService/ModelReady", "inference.ModelReadyRequest"},
      {"/inference.GRPCInferenceService/ServerMetadata", "inference.ServerMetadataRequest"},
      {"/inference.GRPCInferenceService/ModelMetadata", "inference.ModelMetadataRequest"},
      {"/inference.GRPCInferenceService/ModelInfer", "inference.ModelInferRequest"},
      {"/arginator.v1.Classifier/Classify", "arginator.v1.ClassifyRequest"},
      {"/arginator.v1.Classifier/ListModels", "arginator.v1.ListModelsRequest"},
      {"/arginator.v1.Classifier/GetModelMetadata", "arginator.v1.GetModelMetadataRequest"},
      {"/arginator.v1.ModelAdmin/LoadVersion", "arginator.v1.LoadVersionRequest"},
      {"/arginator.v1.ModelAdmin/UnloadVersion", "arginator.v1.UnloadVersionRequest"},
      {"/arginator.v1.ModelAdmin/SetVersionLabel", "arginator.v1.SetVersionLabelRequest"},
      {"/arginator.v1.ModelAdmin/Rescan", "arginator.v1.RescanRequest"},
  };
  for (const auto& [method, type] : methods) {
    grpc::Status s = call(method);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
    EXPECT_THAT(s.error_message(), HasSubstr("not a valid " + type)) << method;
  }
  ExpectServing();
}

}  // namespace
}  // namespace arginator::testing
