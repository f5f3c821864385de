// Issue 24: the same bad request gets the same answer on every protocol. Each row of the table
// goes to the real server through arginator.v1 Classify, v2 ModelInfer over gRPC and v2 infer over
// REST; the gRPC codes must be the row's, REST's HTTP status the v2 spec's mapping of it, and the
// message the same on all three (it is written once, in the serving path). Before the serving
// path owned these rules, REST never checked the name length, v1 said "model.name", v2
// "model_name", and the rows contract had three wordings.
#include <httplib.h>

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/integration/served_models_fixture.h"

namespace arginator::testing {
namespace {

using ::testing::HasSubstr;

struct Answer {
  int code = -1;  // the gRPC code; for REST, the code whose HTTP status came back
  std::string message;
};

// One bad request, as each protocol can express it.
struct BadRequest {
  std::string what;
  std::string name = kBinary;
  int64_t version = 0;  // 0: the default
  std::string label;    // "": none
  std::vector<std::vector<float>> rows;
  bool expired = false;  // a deadline that passes before the forward can run
  grpc::StatusCode code;
  std::string message;  // what the message must contain
};

class SameBadRequestTest : public ServedModelsTest {
 protected:
  Answer V1(const BadRequest& r) {
    v1::ClassifyRequest request;
    request.mutable_model()->set_name(r.name);
    if (r.version) request.mutable_model()->set_version(r.version);
    if (!r.label.empty()) request.mutable_model()->set_version_label(r.label);
    for (const auto& row : r.rows) {
      request.add_embeddings()->mutable_values()->Add(row.begin(), row.end());  // no ids
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     (r.expired ? std::chrono::milliseconds(-1000) : std::chrono::seconds(20)));
    v1::ClassifyResponse response;
    grpc::Status s = stub_->Classify(&ctx, request, &response);
    return {s.error_code(), s.error_message()};
  }

  static std::string RawRows(const BadRequest& r) {
    std::string bytes;
    for (const auto& row : r.rows) {
      bytes.append(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(float));
    }
    return bytes;
  }
  static std::vector<int64_t> Shape(const BadRequest& r) {
    return {static_cast<int64_t>(r.rows.size()),
            r.rows.empty() ? 0 : static_cast<int64_t>(r.rows[0].size())};
  }

  Answer V2Grpc(const BadRequest& r) {
    inference::ModelInferRequest request;
    request.set_model_name(r.name);
    if (r.version) request.set_model_version(std::to_string(r.version));
    if (!r.label.empty())
      (*request.mutable_parameters())["version_label"].set_string_param(r.label);
    if (r.expired) (*request.mutable_parameters())["timeout"].set_int64_param(1);
    auto* input = request.add_inputs();
    input->set_name("embedding");
    input->set_datatype("FP32");
    for (int64_t d : Shape(r)) input->add_shape(d);
    request.add_raw_input_contents(RawRows(r));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    inference::ModelInferResponse response;
    grpc::Status s =
        inference::GRPCInferenceService::NewStub(channel_)->ModelInfer(&ctx, request, &response);
    return {s.error_code(), s.error_message()};
  }

  // The binary tensor extension, so that NaN travels as it does over gRPC (JSON has no NaN).
  Answer Rest(const BadRequest& r) {
    nlohmann::json parameters = nlohmann::json::object();
    if (!r.label.empty()) parameters["version_label"] = r.label;
    if (r.expired) parameters["timeout"] = 1;
    const std::string raw = RawRows(r);
    nlohmann::json header = {{"inputs",
                              {{{"name", "embedding"},
                                {"datatype", "FP32"},
                                {"shape", Shape(r)},
                                {"parameters", {{"binary_data_size", raw.size()}}}}}},
                             {"parameters", parameters}};
    const std::string json = header.dump();
    httplib::Client client("127.0.0.1", server_->rest_port());
    client.set_read_timeout(20, 0);
    const std::string path = "/v2/models/" + r.name +
                             (r.version ? "/versions/" + std::to_string(r.version) : "") + "/infer";
    httplib::Headers headers = {{"Inference-Header-Content-Length", std::to_string(json.size())}};
    auto res = client.Post(path, headers, json + raw, "application/octet-stream");
    if (!res) return {};
    const nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
    const std::string message =
        body.is_object() && body.contains("error") ? body["error"].get<std::string>() : res->body;
    return {CodeOfHttpStatus(res->status), message};
  }

  // The v2 REST spec's statuses for the codes in the table (and what Triton answers).
  static int CodeOfHttpStatus(int status) {
    switch (status) {
      case 400:
        return grpc::StatusCode::INVALID_ARGUMENT;
      case 404:
        return grpc::StatusCode::NOT_FOUND;
      case 504:
        return grpc::StatusCode::DEADLINE_EXCEEDED;
      default:
        return -status;  // fails any comparison with a code
    }
  }
};

TEST_F(SameBadRequestTest, EveryProtocolAnswersTheSameCodeAndMessage) {
  StartServer({"--set", "server.max_embeddings_per_request=4"});
  const std::vector<float> good(1024, 0.01f);
  std::vector<float> narrow(1023, 0.01f), with_nan = good;
  with_nan[5] = std::nanf("");
  const std::vector<BadRequest> table = {
      {"name over the limit",
       std::string(300, 'n'),
       0,
       "",
       {good},
       false,
       grpc::StatusCode::INVALID_ARGUMENT,
       "model name is 300 bytes; at most 256 (server.max_name_bytes)"},
      {"unknown model",
       "no-such-model",
       0,
       "",
       {good},
       false,
       grpc::StatusCode::NOT_FOUND,
       "model 'no-such-model' is not served"},
      {"unknown version",
       kBinary,
       42,
       "",
       {good},
       false,
       grpc::StatusCode::NOT_FOUND,
       "no version 42"},
      {"unknown label",
       kBinary,
       0,
       "canary",
       {good},
       false,
       grpc::StatusCode::NOT_FOUND,
       "has no version label 'canary'"},
      {"wrong width",
       kBinary,
       0,
       "",
       {good, narrow},
       false,
       grpc::StatusCode::INVALID_ARGUMENT,
       "embedding 0 has 1023 values, the model expects 1024"},
      {"non-finite value",
       kBinary,
       0,
       "",
       {good, with_nan},
       false,
       grpc::StatusCode::INVALID_ARGUMENT,
       "embedding 1 has NaN at position 5"},
      {"too many rows",
       kBinary,
       0,
       "",
       {good, good, good, good, good},
       false,
       grpc::StatusCode::INVALID_ARGUMENT,
       "5 embeddings exceed the limit of 4 per request (server.max_embeddings_per_request)"},
      {"expired deadline",
       kBinary,
       0,
       "",
       {good},
       true,
       grpc::StatusCode::DEADLINE_EXCEEDED,
       "the request's deadline passed before its forward ran"},
  };
  for (BadRequest r : table) {
    if (r.what == "wrong width") {
      // v2 tensors have one width: every row narrow, so it names row 0 as v1 does.
      r.rows = {narrow, narrow};
    }
    const Answer v1 = V1(r), v2 = V2Grpc(r), rest = Rest(r);
    SCOPED_TRACE(r.what);
    EXPECT_EQ(v1.code, r.code) << "v1: " << v1.message;
    EXPECT_EQ(v2.code, r.code) << "v2 gRPC: " << v2.message;
    EXPECT_EQ(rest.code, r.code) << "REST: " << rest.message;
    EXPECT_THAT(v2.message, HasSubstr(r.message));
    EXPECT_EQ(rest.message, v2.message);
    if (r.expired) {
      // A gRPC client ends a call whose deadline has passed itself, with its own words; the
      // server's are the same on the protocols where it can speak (v2's `timeout` parameter).
      continue;
    }
    EXPECT_EQ(v1.message, v2.message);
  }

  // And the server still serves, on every protocol.
  BadRequest fine;
  fine.rows = {good};
  fine.code = grpc::StatusCode::OK;
  EXPECT_EQ(V1(fine).code, grpc::StatusCode::OK);
  EXPECT_EQ(V2Grpc(fine).code, grpc::StatusCode::OK);
  EXPECT_EQ(Rest(fine).code, -200);
}

}  // namespace
}  // namespace arginator::testing
