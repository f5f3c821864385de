// The Open Inference Protocol (KServe v2) against the real server: an independent Python client
// (tests/integration/v2_protocol_test.py) over every RPC and endpoint, readiness that agrees
// across protocols through the lifecycle, the drain, and batching shared with arginator.v1.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <random>
#include <regex>

#include "common/embedding_files.h"
#include "gmock/gmock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/integration/served_models_fixture.h"

namespace arginator::testing {
namespace {

using ::testing::HasSubstr;

class V2ProtocolTest : public ServedModelsTest {
 protected:
  std::unique_ptr<inference::GRPCInferenceService::Stub> V2() {
    return inference::GRPCInferenceService::NewStub(channel_);
  }
  httplib::Client Rest() {
    httplib::Client client("127.0.0.1", server_->rest_port());
    client.set_read_timeout(20, 0);
    return client;
  }
  int RestStatus(const std::string& path) {
    auto r = Rest().Get(path);
    return r ? r->status : -1;
  }
  bool V2Ready() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    inference::ServerReadyResponse resp;
    return V2()->ServerReady(&ctx, inference::ServerReadyRequest(), &resp).ok() && resp.ready();
  }
  bool V2ModelReady(const std::string& name) {
    grpc::ClientContext ctx;
    inference::ModelReadyRequest req;
    req.set_name(name);
    inference::ModelReadyResponse resp;
    return V2()->ModelReady(&ctx, req, &resp).ok() && resp.ready();
  }
  // One row of the model's golden inputs as a v2 request (raw contents).
  inference::ModelInferRequest InferRequest(const ModelCard& card) {
    inference::ModelInferRequest req;
    req.set_model_name(card.name);
    auto* input = req.add_inputs();
    input->set_name("embedding");
    input->set_datatype("FP32");
    input->add_shape(1);
    input->add_shape(card.input_dim);
    const std::vector<float>& row = card.golden[0].input;
    req.add_raw_input_contents(
        std::string(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(float)));
    return req;
  }
  std::string RestBody(const ModelCard& card) {
    nlohmann::json body = {{"inputs",
                            {{{"name", "embedding"},
                              {"datatype", "FP32"},
                              {"shape", {1, card.input_dim}},
                              {"data", card.golden[0].input}}}}};
    return body.dump();
  }
  // The value of a /metrics sample line starting with `prefix` (0 if absent).
  double Metric(const std::string& prefix) {
    httplib::Client client("127.0.0.1", server_->metrics_port());
    auto r = client.Get("/metrics");
    if (!r) return -1;
    std::istringstream lines(r->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return 0;
  }
};

// The independent client: Python's grpcio with stubs generated from our v2 proto, and
// http.client for REST, against every RPC and endpoint, with the TorchScript model's own
// probabilities as the reference and the spec's errors for bad requests.
TEST_F(V2ProtocolTest, AnIndependentPythonClientGetsTheModelsOwnAnswersAndTheSpecsErrors) {
  StartServer();
  auto r = RunCommand("/usr/bin/python3 " + kSource + "/tests/integration/v2_protocol_test.py" +
                      " --stubs " + ARGINATOR_PYTHON_STUBS + " --grpc " + server_->target() +
                      " --rest http://127.0.0.1:" + std::to_string(server_->rest_port()) +
                      " --repository " + work_.Join("models"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(server_->Running());
}

// Every REST body, ours and the server's, against the protocol's own OpenAPI schemas
// (proto/inference/spec/open_inference_rest.yaml), with Debian's python3-jsonschema.
TEST_F(V2ProtocolTest, RestBodiesValidateAgainstTheSpecsOpenApiSchemas) {
  StartServer();
  auto r =
      RunCommand("/usr/bin/python3 " + kSource + "/tests/integration/rest_schema_test.py" +
                 " --rest http://127.0.0.1:" + std::to_string(server_->rest_port()) + " --model " +
                 kBinary + " --spec " + kSource + "/proto/inference/spec/open_inference_rest.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("bodies checked against open_inference_rest.yaml, 0 failure"));
}

// grpc.health.v1, v2 over gRPC and v2 over REST give one answer: not ready while the repository
// is empty, ready once both models load, and (below) not ready from SIGTERM on.
TEST_F(V2ProtocolTest, ReadinessAgreesAcrossProtocolsWhileLoadingAndServing) {
  fs::rename(work_.Join("models"), work_.Join("staged"));
  fs::create_directories(work_.Join("models"));
  std::string log;
  server_ = ServerProcess::Start(
      kServer,
      {"--model-repository", work_.Join("models"), "--port", "0", "--metrics-port", "0", "--host",
       "127.0.0.1", "--set", "models.poll_interval_s=0.2"},
      work_.Join("server.log"), &log);
  ASSERT_NE(server_, nullptr) << log;
  channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
  using HealthResponse = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(Health(""), HealthResponse::NOT_SERVING);
  EXPECT_FALSE(V2Ready());
  EXPECT_EQ(RestStatus("/v2/health/ready"), 400);
  EXPECT_EQ(RestStatus("/v2/health/live"), 200);
  EXPECT_FALSE(V2ModelReady(kBinary));
  EXPECT_EQ(RestStatus(std::string("/v2/models/") + kBinary + "/ready"), 400);

  for (const char* model : {kBinary, kClass}) {
    fs::rename(work_.Join("staged/") + model, work_.Join("models/") + model);
  }
  ASSERT_TRUE(WaitFor([&] { return Health("") == HealthResponse::SERVING; })) << server_->Log();
  EXPECT_TRUE(V2Ready());
  EXPECT_EQ(RestStatus("/v2/health/ready"), 200);
  for (const char* model : {kBinary, kClass}) {
    EXPECT_EQ(Health(model), HealthResponse::SERVING);
    EXPECT_TRUE(V2ModelReady(model));
    EXPECT_EQ(RestStatus(std::string("/v2/models/") + model + "/ready"), 200);
    EXPECT_EQ(RestStatus(std::string("/v2/models/") + model + "/versions/1/ready"), 200);
    EXPECT_EQ(RestStatus(std::string("/v2/models/") + model + "/versions/2/ready"), 400);
  }
}

// SIGTERM: v2 readiness goes false at once while v2 requests already in flight (held in the
// batch queue by a long max_queue_delay) finish OK; new REST inference is refused with 503; the
// server exits 0.
TEST_F(V2ProtocolTest, SigtermTurnsReadinessFalseWhileInFlightV2RequestsFinish) {
  StartServer({"--set", "batching.max_queue_delay_us=1500000"});
  const ModelCard card = Card(kBinary, 1);
  auto grpc_call = std::async(std::launch::async, [&] {
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    return V2()->ModelInfer(&ctx, InferRequest(card), &resp);
  });
  auto rest_call = std::async(std::launch::async, [&] {
    auto r = Rest().Post(std::string("/v2/models/") + kBinary + "/infer", RestBody(card),
                         "application/json");
    return r ? r->status : -1;
  });
  ASSERT_TRUE(WaitFor([&] {
    return Metric("arginator_queue_depth{model=\"betalactamase-binary\"") >= 2;
  })) << "the two requests never queued";
  std::thread stop([&] { server_->Stop(SIGTERM); });
  ASSERT_TRUE(WaitFor([&] { return server_->Log().find("draining") != std::string::npos; }));
  EXPECT_EQ(RestStatus("/v2/health/ready"), 400);
  EXPECT_EQ(RestStatus("/v2/health/live"), 200);
  auto refused = Rest().Post(std::string("/v2/models/") + kBinary + "/infer", RestBody(card),
                             "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(refused->body, HasSubstr("shutting down"));
  grpc::Status in_flight = grpc_call.get();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_EQ(rest_call.get(), 200);
  stop.join();
  EXPECT_THAT(server_->Log(), HasSubstr("stopped"));
}

// A new version published under v2 traffic (gRPC and REST) takes over with no failed request, the
// hot swap arginator.v1 has.
TEST_F(V2ProtocolTest, PublishingVersion2UnderV2TrafficSwitchesWithNoFailedRequest) {
  StartServer();
  const ModelCard card = Card(kBinary, 1);
  std::atomic<bool> stop{false};
  std::atomic<int> grpc_failed{0}, rest_failed{0}, on_v2{0};
  std::string first_rest_failure;
  auto grpc_loop = std::async(std::launch::async, [&] {
    while (!stop) {
      grpc::ClientContext ctx;
      inference::ModelInferResponse resp;
      if (!V2()->ModelInfer(&ctx, InferRequest(card), &resp).ok()) ++grpc_failed;
      if (resp.model_version() == "2") ++on_v2;
    }
  });
  auto rest_loop = std::async(std::launch::async, [&] {
    httplib::Client client = Rest();
    client.set_keep_alive(true);  // one connection: thousands would exhaust ephemeral ports
    while (!stop) {
      auto r = client.Post(std::string("/v2/models/") + kBinary + "/infer", RestBody(card),
                           "application/json");
      if (!r || r->status != 200) {
        if (rest_failed++ == 0) {
          first_rest_failure = r ? std::to_string(r->status) + " " + r->body
                                 : "error " + httplib::to_string(r.error());
        }
      }
      if (r && r->body.find("\"model_version\":\"2\"") != std::string::npos) ++on_v2;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  PublishEdited(kBinary, 1, 2, [](const std::string&, nlohmann::json&) {});
  const bool swapped = WaitFor([&] { return on_v2 > 20; });
  stop = true;
  grpc_loop.get();
  rest_loop.get();
  EXPECT_TRUE(swapped) << server_->Log();
  EXPECT_EQ(grpc_failed, 0);
  EXPECT_EQ(rest_failed, 0) << first_rest_failure << "; REST now answers "
                            << RestStatus("/v2/health/live") << "\n"
                            << server_->Log();
}

// A REST client that hangs up (RST) while its request waits in the batch queue: the server's
// answer goes into a dead socket. cpp-httplib writes with plain send() and OpenSSL's write, which
// would kill the whole server on its default SIGPIPE; the server ignores SIGPIPE (the write
// fails with EPIPE) and goes on.
TEST_F(V2ProtocolTest, AClientThatHangsUpBeforeItsAnswerDoesNotKillTheServer) {
  StartServer({"--set", "batching.max_queue_delay_us=400000"});
  const std::string body = RestBody(Card(kBinary, 1));
  const std::string request = std::string("POST /v2/models/") + kBinary +
                              "/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->rest_port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    ASSERT_TRUE(WaitFor([&] {
      return Metric("arginator_queue_depth{model=\"betalactamase-binary\"") >= 1;
    })) << "the request never queued";
    const linger reset{1, 0};  // close with RST: the server's next write fails at once
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // the answer is written now
    ASSERT_TRUE(server_->Running()) << server_->Log();
  }
  EXPECT_EQ(RestStatus("/v2/health/live"), 200);
}

// One request of each protocol for the same version, arriving within the batch window, share one
// forward; each is counted under its protocol.
TEST_F(V2ProtocolTest, V1AndV2RequestsShareAForwardAndAreCountedByProtocol) {
  StartServer({"--set", "batching.max_queue_delay_us=300000"});
  const ModelCard card = Card(kBinary, 1);
  const std::string batches = "arginator_batch_size_count{model=\"betalactamase-binary\"";
  const double before = Metric(batches);
  auto v1 = std::async(std::launch::async, [&] {
    v1::ClassifyRequest req = GoldenRequest(card);
    while (req.embeddings_size() > 1) req.mutable_embeddings()->RemoveLast();
    v1::ClassifyResponse resp;
    return Classify(req, &resp).ok();
  });
  auto v2_grpc = std::async(std::launch::async, [&] {
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    return V2()->ModelInfer(&ctx, InferRequest(card), &resp).ok();
  });
  auto v2_rest = std::async(std::launch::async, [&] {
    auto r = Rest().Post(std::string("/v2/models/") + kBinary + "/infer", RestBody(card),
                         "application/json");
    return r && r->status == 200;
  });
  EXPECT_TRUE(v1.get());
  EXPECT_TRUE(v2_grpc.get());
  EXPECT_TRUE(v2_rest.get());
  EXPECT_EQ(Metric(batches) - before, 1) << "three rows, three protocols, one forward";
  for (const std::string protocol : {"arginator.v1", "v2-grpc", "v2-rest"}) {
    EXPECT_EQ(
        Metric("arginator_requests_total{code=\"OK\",method=\"" +
               std::string(protocol == "arginator.v1" ? "Classify" : "ModelInfer") +
               "\",model=\"betalactamase-binary\",protocol=\"" + protocol + "\",version=\"1\"}"),
        1)
        << protocol;
  }
}

// REST inference ran with no deadline at all (absl::InfiniteFuture): now rest.request_timeout_s
// (30 s), answered 504 as gRPC answers DEADLINE_EXCEEDED.
TEST_F(V2ProtocolTest, RestInferenceHasADeadline) {
  StartServer({"--set", "rest.request_timeout_s=0.000001"});
  const ModelCard card = Card(kBinary, 1);
  auto r = Rest().Post(std::string("/v2/models/") + kBinary + "/infer", RestBody(card),
                       "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_THAT(r->body, HasSubstr("deadline"));
}

// Issue 26: the same rows through v1, v2 gRPC and REST get the same decision; copies of a
// protein that are not proteins (its values shuffled, a random direction at its norm) are out of
// distribution and uncertain, whatever the network's probabilities say.
TEST_F(V2ProtocolTest, EveryProtocolGivesTheSameCallConfidenceAndDistributionFlag) {
  StartServer();
  const ModelCard card = Card(kClass, 1);
  ASSERT_TRUE(card.decision.present) << "the trainer writes a decision policy";
  ASSERT_FALSE(card.decision.density_file.empty());
  const int dim = card.input_dim;
  std::vector<float> rows;
  for (const auto& g : card.golden) rows.insert(rows.end(), g.input.begin(), g.input.end());
  const std::vector<float>& protein = card.golden[0].input;
  std::vector<float> shuffled = protein;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::normal_distribution<float> normal;
  std::vector<float> random(static_cast<size_t>(dim));
  double norm = 0, random_norm = 0;
  for (int j = 0; j < dim; ++j) {
    norm += protein[j] * protein[j];
    random[j] = normal(rng);
    random_norm += random[j] * random[j];
  }
  for (float& v : random) v = static_cast<float>(v * std::sqrt(norm / random_norm));
  rows.insert(rows.end(), shuffled.begin(), shuffled.end());
  rows.insert(rows.end(), random.begin(), random.end());
  const int n = static_cast<int>(rows.size()) / dim;

  v1::ClassifyRequest v1_request;
  v1_request.mutable_model()->set_name(card.name);
  v1_request.set_packed_values(
      std::string(reinterpret_cast<const char*>(rows.data()), rows.size() * sizeof(float)));
  v1::ClassifyResponse v1_response;
  ASSERT_TRUE(Classify(v1_request, &v1_response).ok());
  ASSERT_EQ(v1_response.predictions_size(), n);

  const std::vector<std::string> outputs = {"call", "confidence", "call_probability", "ood_score",
                                            "out_of_distribution"};
  inference::ModelInferRequest v2_request;
  v2_request.set_model_name(card.name);
  auto* input = v2_request.add_inputs();
  input->set_name("embedding");
  input->set_datatype("FP32");
  input->add_shape(n);
  input->add_shape(dim);
  v2_request.add_raw_input_contents(v1_request.packed_values());
  for (const std::string& name : outputs) v2_request.add_outputs()->set_name(name);
  grpc::ClientContext ctx;
  inference::ModelInferResponse v2_response;
  ASSERT_TRUE(V2()->ModelInfer(&ctx, v2_request, &v2_response).ok());
  ASSERT_EQ(v2_response.raw_output_contents_size(), 5);

  nlohmann::json body = {
      {"inputs",
       {{{"name", "embedding"}, {"datatype", "FP32"}, {"shape", {n, dim}}, {"data", rows}}}},
      {"outputs", nlohmann::json::array()}};
  for (const std::string& name : outputs) body["outputs"].push_back({{"name", name}});
  auto rest = Rest().Post("/v2/models/" + card.name + "/infer", body.dump(), "application/json");
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->status, 200) << rest->body;
  const nlohmann::json rest_json = nlohmann::json::parse(rest->body);

  // v2 raw BYTES: each element a 4-byte little-endian length, then its bytes.
  auto strings = [](const std::string& raw) {
    std::vector<std::string> out;
    for (size_t at = 0; at + 4 <= raw.size();) {
      uint32_t length;
      std::memcpy(&length, raw.data() + at, 4);
      out.push_back(raw.substr(at + 4, length));
      at += 4 + length;
    }
    return out;
  };
  auto floats = [](const std::string& raw) {
    std::vector<float> out(raw.size() / sizeof(float));
    std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  };
  const std::vector<std::string> v2_calls = strings(v2_response.raw_output_contents(0));
  const std::vector<std::string> v2_confidence = strings(v2_response.raw_output_contents(1));
  const std::vector<float> v2_probability = floats(v2_response.raw_output_contents(2));
  const std::vector<float> v2_ood = floats(v2_response.raw_output_contents(3));
  const std::string& v2_flags = v2_response.raw_output_contents(4);
  ASSERT_EQ(v2_calls.size(), static_cast<size_t>(n));
  ASSERT_EQ(rest_json["outputs"].size(), 5u);
  for (int i = 0; i < n; ++i) {
    const v1::Prediction& p = v1_response.predictions(i);
    SCOPED_TRACE("row " + std::to_string(i));
    EXPECT_EQ(v2_calls[i], p.call());
    EXPECT_EQ(rest_json["outputs"][0]["data"][i], p.call());
    EXPECT_EQ(v2_confidence[i], p.confidence());
    EXPECT_EQ(rest_json["outputs"][1]["data"][i], p.confidence());
    EXPECT_NEAR(v2_probability[i], p.call_probability(), 1e-6);
    EXPECT_NEAR(rest_json["outputs"][2]["data"][i].get<double>(), p.call_probability(), 1e-6);
    EXPECT_NEAR(v2_ood[i], p.ood_score(), 1e-4);
    EXPECT_EQ(v2_flags[i] != 0, p.out_of_distribution());
    EXPECT_EQ(rest_json["outputs"][4]["data"][i].get<bool>(), p.out_of_distribution());
    EXPECT_EQ(p.call() == "uncertain", p.confidence() == "Low");
    if (p.call() != "uncertain") EXPECT_EQ(p.call(), p.label());
  }
  for (int i : {n - 2, n - 1}) {
    const v1::Prediction& p = v1_response.predictions(i);
    EXPECT_TRUE(p.out_of_distribution())
        << (i == n - 2 ? "shuffled" : "random") << " row, ood_score " << p.ood_score()
        << ", cut-off " << card.decision.ood_cutoff;
    EXPECT_EQ(p.call(), "uncertain");
    EXPECT_GT(p.ood_score(), card.decision.ood_cutoff);
  }
  EXPECT_LT(v1_response.predictions(0).ood_score(), card.decision.ood_cutoff * 1.5)
      << "a held-out protein scores like the validation proteins";
}

// Issue 26: evidence. A training protein's own embedding finds itself as its nearest reference
// (cosine ~1) through v1, v2 gRPC and REST alike; the count is checked at the edge.
TEST_F(V2ProtocolTest, ATrainingProteinIsItsOwnNearestReferenceOnEveryProtocol) {
  StartServer();
  const ModelCard card = Card(kClass, 1);
  ASSERT_FALSE(card.evidence.file.empty()) << "the trainer writes a reference index";
  auto table =
      ReadFileToString(work_.Join("models/" + card.name + "/1/" + card.evidence.table_file));
  ASSERT_TRUE(table.ok());
  const std::string line = table->substr(table->find('\n') + 1);
  const std::string id = line.substr(0, line.find('\t'));
  std::vector<float> protein;
  for (const auto& entry : fs::directory_iterator(shared_->Join("data"))) {
    if (entry.path().extension() != ".h5") continue;
    auto m = ReadEmbeddingFile(entry.path().string());
    ASSERT_TRUE(m.ok()) << m.status();
    for (size_t i = 0; i < m->rows(); ++i) {
      if (m->ids[i] == id) protein.assign(m->row(i), m->row(i) + m->dim);
    }
  }
  ASSERT_EQ(protein.size(), static_cast<size_t>(card.input_dim)) << id;

  v1::ClassifyRequest request;
  request.mutable_model()->set_name(card.name);
  request.set_evidence(3);
  v1::Embedding* e = request.add_embeddings();
  e->set_id("query");
  e->mutable_values()->Add(protein.begin(), protein.end());
  v1::ClassifyResponse v1_response;
  ASSERT_TRUE(Classify(request, &v1_response).ok());
  const v1::Prediction& p = v1_response.predictions(0);
  ASSERT_EQ(p.evidence_size(), 3);
  EXPECT_EQ(p.evidence(0).id(), id);
  EXPECT_GT(p.evidence(0).cosine(), 0.9999f);
  EXPECT_GE(p.evidence(0).cosine(), p.evidence(1).cosine()) << "most similar first";
  EXPECT_EQ(p.evidence_disagrees(), p.call() != "uncertain" && p.evidence(0).label() != p.call());

  inference::ModelInferRequest v2_request;
  v2_request.set_model_name(card.name);
  (*v2_request.mutable_parameters())["evidence"].set_int64_param(3);
  auto* input = v2_request.add_inputs();
  input->set_name("embedding");
  input->set_datatype("FP32");
  input->add_shape(1);
  input->add_shape(card.input_dim);
  v2_request.add_raw_input_contents(
      std::string(reinterpret_cast<const char*>(protein.data()), protein.size() * sizeof(float)));
  for (const char* name :
       {"evidence_id", "evidence_label", "evidence_cosine", "evidence_disagrees"}) {
    v2_request.add_outputs()->set_name(name);
  }
  grpc::ClientContext ctx;
  inference::ModelInferResponse v2_response;
  ASSERT_TRUE(V2()->ModelInfer(&ctx, v2_request, &v2_response).ok());
  ASSERT_EQ(v2_response.outputs_size(), 4);
  EXPECT_THAT(v2_response.outputs(0).shape(), ::testing::ElementsAre(1, 3));
  const std::string& ids = v2_response.raw_output_contents(0);
  EXPECT_EQ(ids.substr(4, id.size()), id);
  float cosines[3];
  ASSERT_EQ(v2_response.raw_output_contents(2).size(), sizeof(cosines));
  std::memcpy(cosines, v2_response.raw_output_contents(2).data(), sizeof(cosines));
  for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(cosines[j], p.evidence(j).cosine());

  nlohmann::json body = {{"parameters", {{"evidence", 3}}},
                         {"inputs",
                          {{{"name", "embedding"},
                            {"datatype", "FP32"},
                            {"shape", {1, card.input_dim}},
                            {"data", protein}}}}};
  auto rest = Rest().Post("/v2/models/" + card.name + "/infer", body.dump(), "application/json");
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->status, 200) << rest->body;
  const nlohmann::json rest_json = nlohmann::json::parse(rest->body);
  bool found = false;
  for (const auto& o : rest_json["outputs"]) {
    if (o["name"] != "evidence_label") continue;
    found = true;
    for (int j = 0; j < 3; ++j) EXPECT_EQ(o["data"][j], p.evidence(j).label());
  }
  EXPECT_TRUE(found) << "the evidence outputs join the default outputs: " << rest->body;

  request.set_evidence(51);
  v1::ClassifyResponse refused;
  grpc::Status too_many = Classify(request, &refused);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(too_many.error_message(), HasSubstr("evidence 51 is not in [0, 50]"));
  v2_request.mutable_parameters()->erase("evidence");
  grpc::ClientContext ctx2;
  grpc::Status no_parameter = V2()->ModelInfer(&ctx2, v2_request, &v2_response);
  EXPECT_EQ(no_parameter.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_parameter.error_message(), HasSubstr("needs the evidence parameter"));
}

}  // namespace
}  // namespace arginator::testing
