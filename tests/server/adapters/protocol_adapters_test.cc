// Each protocol adapter (arginator.v1 on gRPC, v2 on gRPC, v2 on REST) against a fake serving
// path, in-process: what the adapter hands the path (method, model, version, label, deadline,
// rows) and how it encodes the path's answer and errors, without a registry, a model or a
// batcher. The real path's rules are tested in tests/server/serving/; the protocols against
// the real server in tests/integration/.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <future>
#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/rest/rest_inference_server.h"
#include "server/server_config.h"
#include "server/serving/serving_path.h"
#include "server/v1/classifier_service.h"
#include "server/v2/inference_service.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
constexpr int kDim = 4;

// Serves every request with model card `card` and probabilities [0.25, 0.75] (so "b", class 1),
// or fails it with `fail`. Records what each adapter handed it. Thread-safe.
class FakeServingPath : public ServingPath {
 public:
  struct Seen {
    RequestMethod method;
    ModelRef model;
    absl::Time deadline;
    std::vector<std::vector<float>> rows;
  };

  FakeServingPath() : ServingPath(nullptr, nullptr, {8}) {
    card_.name = "m";
    card_.version = 3;
    card_.input_dim = kDim;
    card_.labels = {"a", "b"};
    card_.input_norm.min = 0;
    card_.input_norm.max = 100;
  }

  void Serve(ServingCall* call, RequestMethod method, absl::Time deadline) override {
    Seen seen{method, RequestedModel(*call), deadline, {}};
    std::vector<float> scratch, norms;
    RequestRows rows;
    absl::Status s = call->DecodeRows(card_, rows);
    absl::StatusOr<RowsView> checked =
        s.ok() ? CheckRows(
                     rows, kDim, options().max_embeddings_per_request,
                     [call](int64_t i) { return call->RowName(i); }, scratch, norms)
               : absl::StatusOr<RowsView>(s);
    if (checked.ok()) {
      for (int64_t i = 0; i < checked->rows; ++i) {
        seen.rows.emplace_back(checked->row(i), checked->row(i) + kDim);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(seen);
    }
    if (!checked.ok()) return call->Finish(checked.status());
    if (fail_) return call->Finish(*fail_);
    std::vector<float> probs;
    for (int64_t i = 0; i < checked->rows; ++i) probs.insert(probs.end(), {0.25f, 0.75f});
    const RowsView p(probs.data(), checked->rows, 2);
    Verdicts verdicts;
    if (absl::Status post = Postprocess(p, *checked, norms, card_, nullptr, verdicts); !post.ok()) {
      return call->Finish(post);
    }
    absl::Status encoded = call->Encode({card_, p, norms, verdicts});
    call->Finish(encoded);
  }

  void Refuse(RequestMethod method, const std::string& name, const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.push_back({method, name, status});
  }

  Seen Last() {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(seen_.empty());
    return seen_.empty() ? Seen{} : seen_.back();
  }
  size_t refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_.size();
  }
  RequestMethod last_refused_method() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_.back().method;
  }
  void Fail(std::optional<absl::Status> status) { fail_ = std::move(status); }

 private:
  struct Refused {
    RequestMethod method;
    std::string name;
    absl::Status status;
  };
  ModelCard card_;
  std::optional<absl::Status> fail_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<Refused> refused_;
};

class ProtocolAdaptersTest : public ::testing::Test {
 protected:
  ProtocolAdaptersTest()
      : status_(nullptr, [] { return std::vector<std::string>{}; }),
        classifier_(&path_, {4}),
        inference_(&path_, &status_),
        rest_(&path_, &status_, RestOptions()) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&classifier_);
    builder.RegisterService(&inference_);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    EXPECT_TRUE(rest_.Start("127.0.0.1", 0).ok());
  }
  ~ProtocolAdaptersTest() override {
    rest_.Stop();
    classifier_.DrainStreams();
    server_->Shutdown();
  }

  static RestInferenceServer::Options RestOptions() {
    RestInferenceServer::Options o;  // configs/server.yaml's
    o.limits = DefaultServerConfig().rest_http;
    o.json = DefaultServerConfig().rest_json;
    o.request_timeout = DefaultServerConfig().rest_request_timeout;
    return o;
  }

  static v1::ClassifyRequest TwoRows() {
    v1::ClassifyRequest r;
    r.mutable_model()->set_name("m");
    r.set_request_id("req-1");
    for (const char* id : {"P1", "P2"}) {
      v1::Embedding* e = r.add_embeddings();
      e->set_id(id);
      for (int j = 0; j < kDim; ++j) e->add_values(1.f + j);
    }
    return r;
  }

  grpc::Status Classify(const v1::ClassifyRequest& r, v1::ClassifyResponse* out,
                        std::chrono::seconds timeout = std::chrono::seconds(20)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    return v1::Classifier::NewStub(channel_)->Classify(&ctx, r, out);
  }

  httplib::Result Post(const std::string& path, const nlohmann::json& body) {
    httplib::Client client("127.0.0.1", rest_.port());
    client.set_read_timeout(10, 0);
    return client.Post(path, body.dump(), "application/json");
  }

  static nlohmann::json RestRows(nlohmann::json parameters = nlohmann::json::object()) {
    return {{"id", "r1"},
            {"parameters", parameters},
            {"inputs",
             {{{"name", "embedding"},
               {"datatype", "FP32"},
               {"shape", {1, kDim}},
               {"data", {1, 2, 3, 4}}}}}};
  }

  FakeServingPath path_;
  ServingStatus status_;
  ClassifierService classifier_;
  InferenceService inference_;
  RestInferenceServer rest_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ProtocolAdaptersTest, V1ClassifyHandsThePathItsModelRowsAndDeadlineAndEncodesTheAnswer) {
  v1::ClassifyRequest r = TwoRows();
  r.mutable_model()->set_version(3);
  r.set_return_probabilities(true);
  v1::ClassifyResponse response;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(Classify(r, &response).ok());
  const FakeServingPath::Seen seen = path_.Last();
  EXPECT_EQ(seen.method, RequestMethod::kClassify);
  EXPECT_EQ(seen.model.name, "m");
  EXPECT_EQ(seen.model.version, "3");
  EXPECT_FALSE(seen.model.has_label);
  EXPECT_GT(seen.deadline, before + absl::Seconds(15));  // the client's 20 s deadline
  EXPECT_LT(seen.deadline, before + absl::Seconds(25));
  ASSERT_EQ(seen.rows.size(), 2u);
  EXPECT_THAT(seen.rows[1], ElementsAre(1.f, 2.f, 3.f, 4.f));

  EXPECT_EQ(response.request_id(), "req-1");
  EXPECT_EQ(response.model_name(), "m");
  EXPECT_EQ(response.model_version(), 3);
  EXPECT_THAT(response.labels(), ElementsAre("a", "b"));
  ASSERT_EQ(response.predictions_size(), 2);
  EXPECT_EQ(response.predictions(1).id(), "P2");
  EXPECT_EQ(response.predictions(1).label(), "b");
  EXPECT_FLOAT_EQ(response.predictions(1).score(), 0.75f);
  EXPECT_FLOAT_EQ(response.predictions(1).l2_norm(), std::sqrt(30.f));
  EXPECT_THAT(response.predictions(0).probabilities(), ElementsAre(0.25f, 0.75f));

  r.mutable_model()->set_version_label("stable");
  ASSERT_TRUE(Classify(r, &response).ok());
  EXPECT_TRUE(path_.Last().model.has_label);
  EXPECT_EQ(path_.Last().model.label, "stable");
}

TEST_F(ProtocolAdaptersTest, V1NamesRowsByTheirIdsAndPassesThePathsErrorsThrough) {
  v1::ClassifyRequest r = TwoRows();
  r.mutable_embeddings(1)->mutable_values()->RemoveLast();
  v1::ClassifyResponse response;
  grpc::Status s = Classify(r, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "embedding 1 ('P2') has 3 values, the model expects 4");

  path_.Fail(absl::NotFoundError("no such thing"));
  s = Classify(TwoRows(), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no such thing");
}

TEST_F(ProtocolAdaptersTest, V1BytesThatDoNotParseAreRefusedAndCountedAsRefused) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const char junk[] = "\xff\xff\xff\xff";
  grpc::Slice slice(junk, 4);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/arginator.v1.Classifier/Classify", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) { done.set_value(s); });
  const grpc::Status s = done.get_future().get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("not a valid arginator.v1.ClassifyRequest"));
  ASSERT_EQ(path_.refused(), 1u);
  EXPECT_EQ(path_.last_refused_method(), RequestMethod::kClassify);
}

TEST_F(ProtocolAdaptersTest, V1StreamAnswersEachMessageInOrderAndAnErrorDoesNotEndIt) {
  grpc::ClientContext ctx;
  auto stream = v1::Classifier::NewStub(channel_)->ClassifyStream(&ctx);
  v1::ClassifyRequest good = TwoRows(), bad = TwoRows();
  bad.set_request_id("req-2");
  bad.mutable_embeddings(0)->add_values(9.f);
  v1::ClassifyRequest third = TwoRows();
  third.set_request_id("req-3");
  for (const auto* r : {&good, &bad, &third}) ASSERT_TRUE(stream->Write(*r));
  stream->WritesDone();
  std::vector<v1::ClassifyStreamResponse> answers;
  v1::ClassifyStreamResponse answer;
  while (stream->Read(&answer)) answers.push_back(answer);
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].request_id(), "req-1");
  EXPECT_EQ(answers[0].response().predictions(0).label(), "b");
  EXPECT_EQ(answers[1].request_id(), "req-2");
  EXPECT_EQ(answers[1].error_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(answers[1].error_message(), "embedding 0 ('P1') has 5 values, the model expects 4");
  EXPECT_EQ(answers[2].response().predictions_size(), 2);
  EXPECT_EQ(path_.Last().method, RequestMethod::kClassifyStream);
}

TEST_F(ProtocolAdaptersTest, V2GrpcHandsThePathItsModelParametersAndRawRows) {
  inference::ModelInferRequest r;
  r.set_model_name("m");
  r.set_model_version("3");
  r.set_id("x");
  (*r.mutable_parameters())["version_label"].set_string_param("stable");
  (*r.mutable_parameters())["timeout"].set_int64_param(2'000'000);  // 2 s, before the 20 s
  auto* input = r.add_inputs();
  input->set_name("embedding");
  input->set_datatype("FP32");
  input->add_shape(1);
  input->add_shape(kDim);
  const std::vector<float> row = {1, 2, 3, 4};
  r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(row.data()), 16));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  inference::ModelInferResponse response;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(
      inference::GRPCInferenceService::NewStub(channel_)->ModelInfer(&ctx, r, &response).ok());
  const FakeServingPath::Seen seen = path_.Last();
  EXPECT_EQ(seen.method, RequestMethod::kModelInferGrpc);
  EXPECT_EQ(seen.model.name, "m");
  EXPECT_EQ(seen.model.version, "3");
  EXPECT_EQ(seen.model.label, "stable");
  EXPECT_LT(seen.deadline, before + absl::Seconds(3));  // the timeout parameter won
  ASSERT_EQ(seen.rows.size(), 1u);
  EXPECT_EQ(seen.rows[0], row);

  EXPECT_EQ(response.model_name(), "m");
  EXPECT_EQ(response.model_version(), "3");
  EXPECT_EQ(response.id(), "x");
  ASSERT_EQ(response.outputs_size(), 11);  // every output (v2/infer_tensors.h)
  EXPECT_EQ(response.outputs(1).name(), "label");
  EXPECT_EQ(response.outputs(6).name(), "call");
  ASSERT_EQ(response.raw_output_contents_size(), 11);  // raw in, raw out
  EXPECT_EQ(response.raw_output_contents(1).substr(4), "b");

  (*r.mutable_parameters())["timeout"].set_string_param("soon");
  grpc::ClientContext ctx2;
  grpc::Status s =
      inference::GRPCInferenceService::NewStub(channel_)->ModelInfer(&ctx2, r, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("timeout parameter"));
  EXPECT_EQ(path_.last_refused_method(), RequestMethod::kModelInferGrpc);
}

TEST_F(ProtocolAdaptersTest, RestHandsThePathItsModelAndDeadlineAndMapsErrorsToHttp) {
  const absl::Time before = absl::Now();
  auto res = Post("/v2/models/m/versions/3/infer", RestRows());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  FakeServingPath::Seen seen = path_.Last();
  EXPECT_EQ(seen.method, RequestMethod::kModelInferRest);
  EXPECT_EQ(seen.model.name, "m");
  EXPECT_EQ(seen.model.version, "3");
  EXPECT_GT(seen.deadline, before + absl::Seconds(25));  // rest.request_timeout_s: 30 s
  EXPECT_LT(seen.deadline, before + absl::Seconds(35));
  const nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["id"], "r1");
  EXPECT_EQ(body["model_version"], "3");
  EXPECT_EQ(body["outputs"][1]["data"][0], "b");

  res = Post("/v2/models/m/infer", RestRows({{"timeout", 1000}, {"version_label", "canary"}}));
  ASSERT_TRUE(res);
  seen = path_.Last();
  EXPECT_LT(seen.deadline, before + absl::Seconds(5));
  EXPECT_EQ(seen.model.label, "canary");

  for (const auto& [status, code] :
       std::vector<std::pair<absl::Status, int>>{{absl::NotFoundError("gone"), 404},
                                                 {absl::DeadlineExceededError("late"), 504},
                                                 {absl::InvalidArgumentError("bad"), 400},
                                                 {absl::UnavailableError("busy"), 503}}) {
    path_.Fail(status);
    res = Post("/v2/models/m/infer", RestRows());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, code) << status;
    EXPECT_EQ(nlohmann::json::parse(res->body)["error"], std::string(status.message()));
  }
}

}  // namespace
}  // namespace arginator::server
