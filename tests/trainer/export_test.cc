// Export round trip, golden examples and training determinism. Needs LibTorch.
#include "trainer/export.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/model_card.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/torchscript_model.h"
#include "tests/testing/temp_dir.h"
#include "trainer/pipeline.h"
#include "trainer/synthetic.h"

namespace arginator::trainer {
namespace {

using testing::TempDir;

TEST(ExportTest, TorchScriptGivesTheInMemoryModelsProbabilities) {
  torch::manual_seed(1);
  for (const char* kind : {"ffnn", "logreg"}) {
    Classifier model(ClassifierSpec{kind, 1024, {64, 32}, 0.2, 5});
    model->eval();
    torch::Tensor x = torch::randn({7, 1024});
    torch::Tensor expected = torch::softmax(model->forward(x), 1);
    torch::jit::Module exported = ExportTorchScript(model);

    TempDir dir;
    exported.save(dir.Join("model.pt"));
    auto loaded = LoadTorchScript(dir.Join("model.pt"));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto probs = RunTorchScript(*loaded, x.data_ptr<float>(), 7, 1024);
    ASSERT_TRUE(probs.ok()) << probs.status();
    torch::Tensor got = torch::from_blob(probs->data(), {7, 5}).clone();
    EXPECT_TRUE(torch::allclose(got, expected, 1e-5, 1e-6)) << kind;
    EXPECT_TRUE(torch::allclose(got.sum(1), torch::ones({7}), 1e-5)) << "rows are probabilities";
    // One row alone takes the matrix-vector path: it must give that row's batched answer.
    for (int64_t i = 0; i < 7; ++i) {
      auto one = RunTorchScript(*loaded, x[i].contiguous().data_ptr<float>(), 1, 1024);
      ASSERT_TRUE(one.ok()) << one.status();
      torch::Tensor single = torch::from_blob(one->data(), {1, 5}).clone();
      EXPECT_TRUE(torch::allclose(single, got.narrow(0, i, 1), 1e-5, 1e-6)) << kind << " " << i;
    }
  }
}

// The export runs one row through GEMV, small CPU batches in row chunks and larger ones in one GEMM
// per layer: every batch size must give the in-memory model's probabilities, row for row.
TEST(ExportTest, EveryBatchSizeGivesTheSameProbabilities) {
  torch::manual_seed(2);
  for (const char* kind : {"ffnn", "logreg"}) {
    Classifier model(ClassifierSpec{kind, 1024, {256, 128}, 0.2, 2});
    model->eval();
    torch::Tensor x = torch::randn({40, 1024});
    torch::Tensor expected = torch::softmax(model->forward(x), 1);
    torch::jit::Module exported = ExportTorchScript(model);
    for (int64_t n = 1; n <= 40; ++n) {
      auto probs = RunTorchScript(exported, x.data_ptr<float>(), n, 1024);
      ASSERT_TRUE(probs.ok()) << probs.status();
      torch::Tensor got = torch::from_blob(probs->data(), {n, 2}).clone();
      EXPECT_TRUE(torch::allclose(got, expected.narrow(0, 0, n), 1e-5, 1e-6)) << kind << " " << n;
    }
  }
}

// Issue 29: each small-batch path (rows one by one, first-layer chunks, one GEMM) gives the
// in-memory model's probabilities, and a row the same ones whatever path its batch takes.
TEST(ExportTest, EverySmallBatchPathGivesTheSameProbabilities) {
  torch::manual_seed(4);
  Classifier model(ClassifierSpec{"ffnn", 1024, {256, 128}, 0.0, 5});
  model->eval();
  torch::Tensor x = torch::randn({12, 1024}) * 0.2;
  torch::Tensor expected = torch::softmax(model->forward(x), 1);
  torch::jit::Module exported = ExportTorchScript(model);
  auto alone = RunTorchScript(exported, x.data_ptr<float>(), 1, 1024);
  ASSERT_TRUE(alone.ok()) << alone.status();
  for (int64_t chunk : {0, 1, 2, 4, 8, 12}) {
    exported.setattr("row_plan", c10::List<int64_t>(std::vector<int64_t>(13, chunk)));
    for (int64_t n = 1; n <= 12; ++n) {
      auto probs = RunTorchScript(exported, x.data_ptr<float>(), n, 1024);
      ASSERT_TRUE(probs.ok()) << probs.status();
      torch::Tensor got = torch::from_blob(probs->data(), {n, 5}).clone();
      EXPECT_TRUE(torch::allclose(got, expected.narrow(0, 0, n), 1e-5, 1e-6)) << chunk << " " << n;
      for (int k = 0; k < 5; ++k) EXPECT_NEAR((*probs)[k], (*alone)[k], 1e-6) << chunk << " " << n;
    }
  }
}

// The server tunes the small-batch path at load on its own CPU: whatever it picks, every batch
// size still gives the in-memory model's probabilities.
TEST(ExportTest, TheServersTunedLoadGivesTheSameProbabilities) {
  torch::manual_seed(3);
  Classifier model(ClassifierSpec{"ffnn", 1024, {256, 128}, 0.2, 2});
  model->eval();
  torch::Tensor x = torch::randn({30, 1024});
  torch::Tensor expected = torch::softmax(model->forward(x), 1);
  TempDir dir;
  ExportTorchScript(model).save(dir.Join("model.pt"));
  for (bool tune : {true, false}) {
    auto served = server::LoadTorchScriptModel(dir.Join("model.pt"), 1024, {"cpu", tune, ""});
    ASSERT_TRUE(served.ok()) << served.status();
    for (int64_t n = 1; n <= 30; ++n) {
      std::vector<float> probs(n * 2);
      ASSERT_TRUE(
          (*served)
              ->Forward(RowsView(x.data_ptr<float>(), n, 1024), MutableRowsView(probs.data(), n, 2))
              .ok());
      torch::Tensor got = torch::from_blob(probs.data(), {n, 2}).clone();
      EXPECT_TRUE(torch::allclose(got, expected.narrow(0, 0, n), 1e-5, 1e-6)) << tune << " " << n;
    }
  }
}

// The layout that avoids OpenBLAS's slow packing: every weight [in, out] and contiguous.
TEST(ExportTest, WeightsAreStoredTransposedAndContiguous) {
  Classifier model(ClassifierSpec{"ffnn", 1024, {256, 128}, 0.2, 5});
  torch::jit::Module exported = ExportTorchScript(model);
  const auto& layers = model->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    torch::Tensor wt = exported.attr("wt" + std::to_string(i)).toTensor();
    EXPECT_TRUE(wt.is_contiguous()) << i;
    EXPECT_TRUE(torch::equal(wt, layers[i]->weight.detach().t())) << i;
  }
  // No small-batch plan tuned on the exporting machine: the server measures its own at load.
  EXPECT_TRUE(exported.attr("row_plan").toIntList().empty());
}

TEST(ExportTest, WrongInputWidthIsAnErrorNotACrash) {
  Classifier model(ClassifierSpec{"logreg", 1024, {}, 0.0, 2});
  torch::jit::Module exported = ExportTorchScript(model);
  std::vector<float> x(512, 0.f);
  auto probs = RunTorchScript(exported, x.data(), 1, 512);
  EXPECT_FALSE(probs.ok());
  EXPECT_EQ(LoadTorchScript("/nonexistent/model.pt").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class PublishedModelTest : public ::testing::Test {
 protected:
  // No ASSERT in SetUpTestSuite: gtest would report the suite's tests as SKIPPED, which ctest
  // counts as passing (tests/integration/served_models_fixture.h). SetUp checks instead.
  static void SetUpTestSuite() {
    data_ = new TempDir;
    written_ = new absl::Status(WriteSyntheticDataset(data_->path(), {0.02, 11}).status());
  }
  static void TearDownTestSuite() {
    delete written_;
    delete data_;
  }
  void SetUp() override { ASSERT_TRUE(written_->ok()) << *written_; }

  TrainConfig Config(const std::string& repo, std::vector<std::string> extra = {}) {
    std::vector<std::string> overrides = {"data.dir=" + data_->path(), "output.repository=" + repo,
                                          "output.report_dir=" + repo + "/reports",
                                          "experiment.epochs=2", "experiment.threads=1"};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    return *LoadTrainConfig("", overrides);
  }

  static TempDir* data_;
  static absl::Status* written_;
};
TempDir* PublishedModelTest::data_ = nullptr;
absl::Status* PublishedModelTest::written_ = nullptr;

TEST_F(PublishedModelTest, PublishedPackageCarriesAVerifiableModelCard) {
  TempDir repo;
  std::ostringstream log;
  auto outcome = RunFit(Config(repo.path(), {"task=multiclass"}), log);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->published.has_value());
  const std::string dir = outcome->published->path;
  EXPECT_EQ(dir, repo.Join("betalactamase-class/1"));

  auto card = ReadModelCard(dir + "/model.json");
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->name, "betalactamase-class");
  EXPECT_EQ(card->version, 1);
  EXPECT_EQ(card->labels.size(), 5u);
  EXPECT_EQ(card->model_sha256, *Sha256File(dir + "/model.pt"));
  // Issue 26: the decision policy and the reference index, with the files they name.
  EXPECT_TRUE(card->decision.present);
  EXPECT_EQ(card->decision.thresholds.size(), 5u);
  EXPECT_EQ(card->decision.density_sha256, *Sha256File(dir + "/density.npy"));
  EXPECT_GE(
      card->decision_json["out_of_distribution"]["flagged_fraction"]["test_random_at_same_norm"]
          .get<double>(),
      0.9)
      << "random directions at a protein's norm are out of distribution";
  EXPECT_EQ(card->evidence.sha256, *Sha256File(dir + "/references.faiss"));
  EXPECT_EQ(card->evidence.count, card->dataset["split_sizes"]["train"].get<int64_t>());
  EXPECT_EQ(card->golden.size(), 8u);
  EXPECT_GT(card->input_norm.mean, 5.0);
  EXPECT_LE(card->input_norm.quantiles.at("p1"), card->input_norm.quantiles.at("p99"));
  EXPECT_TRUE(card->dataset["synthetic"].get<bool>());
  EXPECT_EQ(card->dataset["files"].size(), 5u);
  EXPECT_TRUE(card->metrics["test"].contains("roc_auc"));
  EXPECT_EQ(card->config["task"], "multiclass");

  // The golden probabilities are what the published file computes.
  auto module = LoadTorchScript(dir + "/model.pt");
  ASSERT_TRUE(module.ok());
  for (const auto& g : card->golden) {
    auto probs = RunTorchScript(*module, g.input.data(), 1, 1024);
    ASSERT_TRUE(probs.ok());
    for (size_t k = 0; k < g.probabilities.size(); ++k) {
      EXPECT_NEAR((*probs)[k], g.probabilities[k], card->golden_tolerance);
    }
  }
  for (const char* f : {"metrics.json", "history.csv", "loss_curve.png", "accuracy_curve.png",
                        "roc.png", "confusion_matrix.png", "config.yaml", "reliability.png"}) {
    EXPECT_TRUE(std::filesystem::exists(outcome->report_dir + "/" + f)) << f;
  }

  // Python's torch.jit.load reads the same file and reproduces the golden probabilities.
  if (std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3-torch is not installed";
  }
  std::string cmd = std::string("/usr/bin/python3 ") + ARGINATOR_SOURCE_DIR +
                    "/tests/trainer/load_torchscript.py " + dir;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST_F(PublishedModelTest, SameSeedDataAndConfigGiveTheSameWeights) {
  TempDir repo;
  auto config = Config(repo.path(), {"output.publish=false"});
  std::ostringstream log;
  auto prepared = PrepareData(config, log);
  ASSERT_TRUE(prepared.ok());
  auto train = [&](const TrainConfig& c) {
    return TrainClassifier(c, prepared->data.x, prepared->labels, prepared->scheme.labels,
                           prepared->split, log);
  };
  auto a = train(config);
  auto b = train(config);
  auto c = train(Config(repo.path(), {"experiment.seed=43"}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto pa = a->model->parameters(), pb = b->model->parameters(), pc = c->model->parameters();
  bool differs_with_other_seed = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    differs_with_other_seed |= !torch::equal(pa[i], pc[i]);
  }
  EXPECT_TRUE(differs_with_other_seed);
}

TEST_F(PublishedModelTest, EarlyStoppingKeepsTheBestEpoch) {
  TempDir repo;
  std::ostringstream log;
  // A large learning rate overfits fast, so validation loss turns up and patience 1 stops.
  auto outcome = RunFit(Config(repo.path(), {"experiment.epochs=30", "experiment.patience=1",
                                             "experiment.lr=0.01", "output.publish=false"}),
                        log);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  const auto& h = outcome->train.history;
  ASSERT_FALSE(h.empty());
  EXPECT_LT(h.size(), 30u) << log.str();
  EXPECT_TRUE(outcome->train.stopped_early);
  double best = h[outcome->train.best_epoch - 1].val_loss;
  for (const auto& e : h) EXPECT_GE(e.val_loss, best);
  // The kept weights are the best epoch's: re-evaluating gives its validation loss.
  EXPECT_NEAR(outcome->val.loss, best, 1e-5);
}

TEST_F(PublishedModelTest, SweepRanksTrialsByValidationLossAndPublishesTheBest) {
  TempDir repo;
  std::ostringstream log;
  auto outcome =
      RunSweep(Config(repo.path(), {"sweep.trials=3", "sweep.epochs_min=1", "sweep.epochs_max=2",
                                    "sweep.hidden_options=[[16]]"}),
               log);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->published.has_value());
  EXPECT_EQ(outcome->published->version, 1);

  std::string sweep_dir;
  for (const auto& e :
       std::filesystem::directory_iterator(repo.Join("reports/betalactamase-binary"))) {
    if (e.path().filename().string().rfind("sweep-", 0) == 0) sweep_dir = e.path().string();
  }
  ASSERT_FALSE(sweep_dir.empty()) << log.str();
  std::ifstream csv(sweep_dir + "/leaderboard.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("rank,trial,val_loss", 0), 0u) << line;
  std::vector<double> losses;
  while (std::getline(csv, line)) losses.push_back(std::stod(line.substr(line.find(',', 2) + 1)));
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_TRUE(std::is_sorted(losses.begin(), losses.end()));
  // The published model is the best trial's: its validation loss is the leaderboard's first.
  EXPECT_NEAR(outcome->train.best_val_loss, losses.front(), 1e-5);
  EXPECT_TRUE(std::filesystem::exists(sweep_dir + "/leaderboard.md"));
}

TEST_F(PublishedModelTest, SweepStopsStartingTrialsWhenTheTimeBudgetIsSpent) {
  TempDir repo;
  std::ostringstream log;
  auto outcome = RunSweep(
      Config(repo.path(), {"sweep.trials=50", "sweep.time_budget_s=0.001", "sweep.epochs_min=1",
                           "sweep.epochs_max=1", "output.publish=false"}),
      log);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_THAT(log.str(), ::testing::HasSubstr("time budget"));
  EXPECT_THAT(log.str(), ::testing::Not(::testing::HasSubstr("trial 3/50")));
}

// Issue 15: the int8 module, built in C++, stays close to the float model, saves and reloads, and
// the server loads it only with its quantized engine.
TEST(ExportTest, Int8ModuleTracksTheFloatModelAndNeedsItsEngine) {
  torch::manual_seed(3);
  Classifier model(ClassifierSpec{"ffnn", 1024, {256, 128}, 0.2, 5});
  model->eval();
  torch::Tensor x = torch::randn({64, 1024}) * 0.2;
  torch::Tensor expected = torch::softmax(model->forward(x), 1);
  const Int8Calibration calibration = CalibrateActivations(model, torch::randn({512, 1024}) * 0.2);
  auto q = ExportInt8TorchScript(model, "onednn", calibration.ranges);
  ASSERT_TRUE(q.ok()) << q.status();
  TempDir dir;
  q->save(dir.Join("model.pt"));
  auto loaded = LoadTorchScript(dir.Join("model.pt"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto probs = RunTorchScript(*loaded, x.data_ptr<float>(), 64, 1024);
  ASSERT_TRUE(probs.ok()) << probs.status();
  torch::Tensor got = torch::from_blob(probs->data(), {64, 5}).clone();
  EXPECT_LT((got - expected).abs().max().item<float>(), 0.02);
  EXPECT_TRUE(torch::allclose(got.sum(1), torch::ones({64}), 1e-5)) << "rows are probabilities";
  EXPECT_LT(std::filesystem::file_size(dir.Join("model.pt")), 400u * 1000);  // fp32: ~1.2 MB

  auto served = server::LoadTorchScriptModel(dir.Join("model.pt"), 1024, {"cpu", true, "onednn"});
  ASSERT_TRUE(served.ok()) << served.status();
  std::vector<float> out(64 * 5);
  ASSERT_TRUE(
      (*served)
          ->Forward(RowsView(x.data_ptr<float>(), 64, 1024), MutableRowsView(out.data(), 64, 5))
          .ok());
  EXPECT_TRUE(torch::allclose(torch::from_blob(out.data(), {64, 5}), got, 1e-6, 1e-6));

  auto refused =
      server::LoadTorchScriptModel(dir.Join("model.pt"), 1024, {"cpu", true, "nosuchengine"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("an int8 model: this LibTorch build has no quantized engine "
                                   "'nosuchengine' (it has: "));
  EXPECT_EQ(ExportInt8TorchScript(model, "nosuchengine", calibration.ranges).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Issue 29: an int8 row's probabilities were quantized over its whole batch, so the same protein
// got another answer beside other proteins (0.025 apart). With static ranges it gets the same one
// alone, among a few rows, and among 1,023 unrelated rows, including rows far outside the
// calibrated range, which are clamped rather than widening everyone's scale.
TEST(ExportTest, Int8AnswersDoNotDependOnTheBatch) {
  torch::manual_seed(5);
  Classifier model(ClassifierSpec{"ffnn", 1024, {256, 64}, 0.0, 5});
  model->eval();
  const Int8Calibration calibration = CalibrateActivations(model, torch::randn({2048, 1024}) * 0.2);
  ASSERT_EQ(calibration.ranges.size(), 3u);
  EXPECT_EQ(calibration.rows, 2048);
  EXPECT_EQ(calibration.rows_sha256.size(), 64u);
  EXPECT_LT(calibration.ranges[0].lo, 0);
  EXPECT_EQ(calibration.ranges[1].lo, 0) << "ReLU outputs start at 0";
  auto q = ExportInt8TorchScript(model, "onednn", calibration.ranges);
  ASSERT_TRUE(q.ok()) << q.status();
  torch::Tensor batch = torch::randn({1024, 1024}) * 0.2;
  batch.narrow(0, 512, 8).mul_(50);  // outliers beside the rows under test
  auto all = RunTorchScript(*q, batch.data_ptr<float>(), 1024, 1024);
  ASSERT_TRUE(all.ok()) << all.status();
  for (int64_t row : {0, 1, 7, 300, 513, 1023}) {
    auto alone = RunTorchScript(*q, batch[row].data_ptr<float>(), 1, 1024);
    ASSERT_TRUE(alone.ok()) << alone.status();
    torch::Tensor few = torch::cat({batch[row].unsqueeze(0), torch::randn({3, 1024}) * 0.3});
    auto in_few = RunTorchScript(*q, few.data_ptr<float>(), 4, 1024);
    ASSERT_TRUE(in_few.ok()) << in_few.status();
    for (int k = 0; k < 5; ++k) {
      EXPECT_LE(std::abs((*alone)[k] - (*all)[row * 5 + k]), 1e-6) << "row " << row;
      EXPECT_LE(std::abs((*alone)[k] - (*in_few)[k]), 1e-6) << "row " << row;
    }
  }
  EXPECT_TRUE(CheckGoldenRowsAlone(*q, batch.narrow(0, 0, 16),
                                   std::vector<float>(all->begin(), all->begin() + 16 * 5),
                                   std::vector<std::string>(16, "g"), {"a", "b", "c", "d", "e"},
                                   "int8")
                  .ok());
}

// Publishing refuses a module whose rows move with their batch-mates, naming the row.
TEST(ExportTest, GoldenCheckRefusesAModuleThatDependsOnItsBatch) {
  torch::jit::Module module("BatchDependent");
  module.define(
      "def forward(self, x):\n"
      "    return torch.softmax(x[:, 0:3] - x[:, 0:3].mean(0), 1)\n");
  torch::Tensor x = torch::randn({4, 8});
  auto batch = RunTorchScript(module, x.data_ptr<float>(), 4, 8);
  ASSERT_TRUE(batch.ok()) << batch.status();
  absl::Status s = CheckGoldenRowsAlone(module, x, *batch, {"p1", "p2", "p3", "p4"},
                                        {"a", "b", "c"}, "model.pt");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              ::testing::HasSubstr("answers depend on the batch: golden example 'p1'"));
}

}  // namespace
}  // namespace arginator::trainer
