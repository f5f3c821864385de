// Tests labelled `cuda`: the server and the trainer on a GPU. Each skips, saying why, where this
// build of LibTorch sees no CUDA device (every machine without one, and every CPU-only LibTorch);
// scripts/gpu-build.sh runs them on the GPU machine.
#include <atomic>
#include <random>

#include "gmock/gmock.h"
#include "httplib.h"
#include "tests/integration/served_models_fixture.h"

namespace arginator::testing {
namespace {

using ::testing::HasSubstr;

// "" when `device` is usable by arginator-server, else its explanation.
std::string DeviceProblem(const std::string& device) {
  CommandResult r = RunCommand(kServer + " --check-device --device " + device);
  return r.exit_code == 0 ? "" : r.output;
}

class CudaTest : public ServedModelsTest {
 protected:
  static void SetUpTestSuite() {
    problem_ = new std::string(DeviceProblem("cuda"));
    if (!problem_->empty()) return;  // each test skips; nothing to train
    ServedModelsTest::SetUpTestSuite();
  }
  static void TearDownTestSuite() {
    if (problem_->empty()) ServedModelsTest::TearDownTestSuite();
    delete problem_;
  }
  void SetUp() override {
    if (!problem_->empty()) GTEST_SKIP() << "no CUDA here: " << *problem_;
    ServedModelsTest::SetUp();
  }

  // 256 ProtT5-like rows plus the golden examples, probabilities requested.
  static v1::ClassifyRequest MixedRequest(const ModelCard& card) {
    v1::ClassifyRequest req = GoldenRequest(card);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.f, 0.2f);
    for (int i = 0; i < 256; ++i) {
      v1::Embedding* e = req.add_embeddings();
      e->set_id("r" + std::to_string(i));
      for (int j = 0; j < card.input_dim; ++j) e->add_values(normal(rng));
    }
    return req;
  }

  static std::string* problem_;
};
std::string* CudaTest::problem_ = nullptr;

TEST_F(CudaTest, BothModelsGiveTheCpusOutputsWithinTolerance) {
  StartServer({"--device", "cuda"});
  auto cpu = ServerProcess::Start(kServer,
                                  {"--model-repository", work_.Join("models"), "--port", "0",
                                   "--metrics-port", "-1", "--host", "127.0.0.1"},
                                  work_.Join("cpu.log"));
  ASSERT_NE(cpu, nullptr);
  auto cpu_stub = v1::Classifier::NewStub(
      grpc::CreateChannel(cpu->target(), grpc::InsecureChannelCredentials()));
  for (const char* model : {kBinary, kClass}) {
    const v1::ClassifyRequest req = MixedRequest(Card(model, 1));
    v1::ClassifyResponse on_gpu, on_cpu;
    ASSERT_TRUE(Classify(req, &on_gpu, 30000).ok());
    ASSERT_TRUE(WaitFor([&] {
      grpc::ClientContext ctx;
      return cpu_stub->Classify(&ctx, req, &on_cpu).ok();
    }));
    ASSERT_EQ(on_gpu.predictions_size(), on_cpu.predictions_size());
    for (int i = 0; i < on_gpu.predictions_size(); ++i) {
      const auto &g = on_gpu.predictions(i), &c = on_cpu.predictions(i);
      EXPECT_EQ(g.class_index(), c.class_index()) << model << " row " << i;
      for (int k = 0; k < g.probabilities_size(); ++k) {
        EXPECT_NEAR(g.probabilities(k), c.probabilities(k), 1e-4) << model << " row " << i;
      }
    }
  }
}

TEST_F(CudaTest, BatchingHotSwapAndMetricsWorkOnCuda) {
  StartServer({"--device", "cuda"});
  ClassifyLoad load(this, GoldenRequest(Card(kBinary, 1)), /*threads=*/8);
  EXPECT_TRUE(WaitFor([&] { return load.ok() > 20; })) << server_->Log();
  auto fit = Fit(work_.Join("models"), "configs/train/binary.yaml");
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  EXPECT_TRUE(WaitFor([&] { return load.by_version_2() > 20; })) << server_->Log();
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.first_error();
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  // Eight clients share forwards: some batch held more than one request's rows.
  EXPECT_THAT(metrics->body, HasSubstr("arginator_batch_size_bucket"));
  EXPECT_THAT(metrics->body, HasSubstr("arginator_requests_total"));
  EXPECT_THAT(server_->Log(), HasSubstr("device cuda"));
}

TEST_F(CudaTest, TrainerTrainsOnCuda) {
  const std::string repo = work_.Join("cuda-models");
  CommandResult fit =
      RunCommand(kTrain + " fit --config " + kSource +
                 "/configs/train/multiclass.yaml experiment.epochs=1 publish.min_macro_f1=0 "
                 "experiment.device=cuda data.dir=" +
                 shared_->Join("data") + " output.repository=" + repo +
                 " output.report_dir=" + work_.Join("cuda-reports"));
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  auto card = ReadModelCard(repo + "/betalactamase-class/1/model.json");
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_GT(card->metrics["test"]["f1"].get<double>(), 0.5) << card->metrics.dump();  // macro F1
}

}  // namespace
}  // namespace arginator::testing
