// Issue 29: the same protein gets the same answer whatever else is in its batch, on every protocol
// (arginator.v1 gRPC, v2 gRPC, v2 REST), for an fp32 version and its int8 compression. The server
// runs forwards of up to 1,024 rows, so a 1,024-row request is one batch.
#include <httplib.h>

#include <random>

#include "gmock/gmock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/integration/served_models_fixture.h"

namespace arginator::testing {
namespace {

class BatchInvarianceTest : public ServedModelsTest {
 protected:
  // The protein alone, among 3 others and among 1,023 others (at row `at`); the others are
  // unrelated vectors of the embeddings' scale, eight of them 50x outside it.
  static std::vector<std::vector<float>> Batches(const std::vector<float>& protein, size_t at) {
    std::mt19937 rng(29);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    std::vector<std::vector<float>> batches;
    for (size_t rows : {size_t{1}, size_t{4}, size_t{1024}}) {
      std::vector<float> batch;
      for (size_t r = 0; r < rows; ++r) {
        if (r == (rows == 1 ? 0 : at % rows)) {
          batch.insert(batch.end(), protein.begin(), protein.end());
          continue;
        }
        const float scale = r % 128 == 5 ? 50.0f : 1.0f;
        for (size_t j = 0; j < protein.size(); ++j) batch.push_back(scale * noise(rng));
      }
      batches.push_back(std::move(batch));
    }
    return batches;
  }

  // The probabilities of row `row` of `batch` answered by v1 Classify, then its density score.
  std::vector<float> V1(const std::string& model, int version, const std::vector<float>& batch,
                        int dim, size_t row) {
    v1::ClassifyRequest req;
    req.mutable_model()->set_name(model);
    req.mutable_model()->set_version(version);
    req.set_return_probabilities(true);
    req.set_packed_values(
        std::string(reinterpret_cast<const char*>(batch.data()), batch.size() * sizeof(float)));
    v1::ClassifyResponse resp;
    grpc::Status s = Classify(req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.predictions_size() != static_cast<int>(batch.size() / dim)) return {};
    const auto& p = resp.predictions(static_cast<int>(row)).probabilities();
    std::vector<float> answer(p.begin(), p.end());
    answer.push_back(resp.predictions(static_cast<int>(row)).ood_score());
    return answer;
  }

  std::vector<float> V2Grpc(const std::string& model, int version, const std::vector<float>& batch,
                            int dim, size_t row, size_t cols) {
    inference::ModelInferRequest req;
    req.set_model_name(model);
    req.set_model_version(std::to_string(version));
    auto* input = req.add_inputs();
    input->set_name("embedding");
    input->set_datatype("FP32");
    input->add_shape(static_cast<int64_t>(batch.size() / dim));
    input->add_shape(dim);
    req.add_raw_input_contents(
        std::string(reinterpret_cast<const char*>(batch.data()), batch.size() * sizeof(float)));
    req.add_outputs()->set_name("probabilities");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    inference::ModelInferResponse resp;
    grpc::Status s =
        inference::GRPCInferenceService::NewStub(channel_)->ModelInfer(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.raw_output_contents_size() != 1) return {};
    const std::string& raw = resp.raw_output_contents(0);
    if (raw.size() != batch.size() / dim * cols * sizeof(float)) return {};
    std::vector<float> out(cols);
    std::memcpy(out.data(), raw.data() + row * cols * sizeof(float), cols * sizeof(float));
    return out;
  }

  std::vector<float> Rest(const std::string& model, int version, const std::vector<float>& batch,
                          int dim, size_t row, size_t cols) {
    const nlohmann::json body = {{"inputs",
                                  {{{"name", "embedding"},
                                    {"datatype", "FP32"},
                                    {"shape", {static_cast<int64_t>(batch.size() / dim), dim}},
                                    {"data", batch}}}},
                                 {"outputs", {{{"name", "probabilities"}}}}};
    httplib::Client client("127.0.0.1", server_->rest_port());
    client.set_read_timeout(30, 0);
    auto r = client.Post("/v2/models/" + model + "/versions/" + std::to_string(version) + "/infer",
                         body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body.substr(0, 300) : "no response");
    if (!r || r->status != 200) return {};
    const nlohmann::json out = nlohmann::json::parse(r->body)["outputs"][0]["data"];
    if (out.size() != batch.size() / dim * cols) return {};
    std::vector<float> probs;
    for (size_t k = 0; k < cols; ++k) probs.push_back(out[row * cols + k].get<float>());
    return probs;
  }
};

TEST_F(BatchInvarianceTest, AProteinGetsTheSameAnswerAloneAndAmongOthersOnEveryProtocol) {
  // Version 2: the int8 compression of version 1 (fp32).
  auto int8 = RunCommand(testing::kTrain + " compress --model " +
                         work_.Join("models/" + std::string(kClass) + "/1") +
                         " --method int8 --tolerance 0.5 data.dir=" + shared_->Join("data"));
  ASSERT_EQ(int8.exit_code, 0) << int8.output;
  StartServer({"--set", "batching.max_batch_size=1024", "--set", "models.policy=all"});
  ASSERT_TRUE(WaitFor([&] {
    for (int version : {1, 2}) {
      v1::ClassifyResponse resp;
      v1::ClassifyRequest req = GoldenRequest(Card(kClass, version));
      req.mutable_model()->set_version(version);
      if (!Classify(req, &resp).ok()) return false;
    }
    return true;
  })) << server_->Log();
  ASSERT_EQ(Card(kClass, 2).quantization["calibration"]["split"], "train");

  for (int version : {1, 2}) {
    const ModelCard card = Card(kClass, version);
    const size_t cols = card.labels.size();
    for (size_t g = 0; g < std::min<size_t>(card.golden.size(), 3); ++g) {
      const auto batches = Batches(card.golden[g].input, 517 + g);
      const auto row_of = [&](size_t b) {
        return b == 0 ? size_t{0} : (517 + g) % (b == 1 ? 4 : 1024);
      };
      std::vector<std::vector<float>> answers;
      for (size_t b = 0; b < batches.size(); ++b) {
        answers.push_back(V1(kClass, version, batches[b], card.input_dim, row_of(b)));
        answers.push_back(V2Grpc(kClass, version, batches[b], card.input_dim, row_of(b), cols));
        answers.push_back(Rest(kClass, version, batches[b], card.input_dim, row_of(b), cols));
      }
      // The density score, computed over the whole batch the server formed: the same bits.
      for (size_t b = 1; b < batches.size(); ++b) {
        ASSERT_EQ(answers[3 * b].size(), cols + 1);
        EXPECT_EQ(answers[3 * b][cols], answers[0][cols])
            << "v" << version << " golden " << g << ": ood_score among " << (b == 1 ? 4 : 1024);
      }
      EXPECT_GT(answers[0].back(), 0.0f) << "the version has a density detector";
      for (size_t b = 0; b < batches.size(); ++b) answers[3 * b].pop_back();
      const std::vector<float>& alone = answers.front();
      ASSERT_EQ(alone.size(), cols);
      for (size_t a = 1; a < answers.size(); ++a) {
        ASSERT_EQ(answers[a].size(), cols) << "answer " << a;
        for (size_t k = 0; k < cols; ++k) {
          EXPECT_LE(std::abs(answers[a][k] - alone[k]), 1e-6)
              << "v" << version << " golden " << g << " " << card.labels[k] << ": batch "
              << (a / 3 == 0   ? 1
                  : a / 3 == 1 ? 4
                               : 1024)
              << " over "
              << (a % 3 == 0   ? "v1 gRPC"
                  : a % 3 == 1 ? "v2 gRPC"
                               : "REST");
        }
      }
    }
  }
  EXPECT_TRUE(server_->Running());
}

}  // namespace
}  // namespace arginator::testing
