// Runs the real arginator-train binary: gen-data, fit (binary and multiclass), a second publish,
// eval, and bad input.
#include <filesystem>
#include <fstream>

#include "common/model_card.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace arginator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::TempDir;

const std::string kTrain = ARGINATOR_TRAIN_BIN;
const std::string kSource = ARGINATOR_SOURCE_DIR;

class TrainerCliTest : public ::testing::Test {
 protected:
  // No ASSERT in SetUpTestSuite: gtest would report the suite's tests as SKIPPED, which ctest
  // counts as passing (tests/integration/served_models_fixture.h). SetUp checks instead.
  static void SetUpTestSuite() {
    work_ = new TempDir;
    gen_ = new testing::CommandResult(
        RunCommand(kTrain + " gen-data --out " + work_->Join("data") + " --scale 0.05"));
  }
  static void TearDownTestSuite() {
    delete gen_;
    delete work_;
  }
  void SetUp() override {
    ASSERT_EQ(gen_->exit_code, 0) << gen_->output;
    ASSERT_THAT(gen_->output, HasSubstr("SYNTHETIC"));
  }

  static testing::CommandResult Fit(const std::string& config, const std::string& extra = "") {
    return RunCommand(kTrain + " fit --config " + kSource + "/" + config + " data.dir=" +
                      work_->Join("data") + " output.repository=" + work_->Join("models") +
                      " output.report_dir=" + work_->Join("reports") + " " + extra);
  }

  static TempDir* work_;
  static testing::CommandResult* gen_;
};
TempDir* TrainerCliTest::work_ = nullptr;
testing::CommandResult* TrainerCliTest::gen_ = nullptr;

TEST_F(TrainerCliTest, FitPublishesBothModelsWellAboveChanceAndCountsVersions) {
  auto binary = Fit("configs/train/binary.yaml");
  ASSERT_EQ(binary.exit_code, 0) << binary.output;
  EXPECT_THAT(binary.output, HasSubstr("Data report"));
  EXPECT_THAT(binary.output, HasSubstr("epoch  1/5"));
  EXPECT_THAT(binary.output, HasSubstr("samples/s"));
  const std::string v1 = work_->Join("models/betalactamase-binary/1");
  ASSERT_TRUE(fs::exists(v1 + "/model.pt"));
  auto card = ReadModelCard(v1 + "/model.json");
  ASSERT_TRUE(card.ok()) << card.status();
  // Chance on this imbalanced set: F1 of the positive class ~0.2 at best.
  EXPECT_GT(card->metrics["test"]["f1"].get<double>(), 0.75);
  EXPECT_GT(card->metrics["test"]["roc_auc"].get<double>(), 0.95);

  auto multi = Fit("configs/train/multiclass.yaml");
  ASSERT_EQ(multi.exit_code, 0) << multi.output;
  auto class_card = ReadModelCard(work_->Join("models/betalactamase-class/1/model.json"));
  ASSERT_TRUE(class_card.ok()) << class_card.status();
  EXPECT_EQ(class_card->labels.size(), 5u);
  // Chance macro F1 for five classes is ~0.2.
  EXPECT_GT(class_card->metrics["test"]["f1"].get<double>(), 0.7);

  auto again = Fit("configs/train/binary.yaml", "model.kind=logreg");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("processed cache hit"));
  EXPECT_THAT(again.output, HasSubstr("version 2"));
  auto v2 = ReadModelCard(work_->Join("models/betalactamase-binary/2/model.json"));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->architecture["kind"], "logreg");

  auto eval = RunCommand(kTrain + " eval --model " + v1 + " --data " + work_->Join("data") +
                         " --report " + work_->Join("eval-report"));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_THAT(eval.output, HasSubstr("Evaluation of betalactamase-binary v1"));
  EXPECT_TRUE(fs::exists(work_->Join("eval-report/roc.png")));
}

TEST_F(TrainerCliTest, UnknownConfigKeyFailsWithTheValidKeys) {
  auto r = Fit("configs/train/binary.yaml", "experiment.learning_rate=0.1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown config key 'experiment.learning_rate'"));
  EXPECT_THAT(r.output, HasSubstr("experiment.lr"));
}

TEST_F(TrainerCliTest, BadDataPublishesNothing) {
  TempDir bad;
  fs::copy(work_->Join("data"), bad.path(), fs::copy_options::recursive);
  std::ofstream(bad.Join("card_class_b_embeddings.h5"), std::ios::trunc) << "garbage";
  auto r = RunCommand(
      kTrain + " fit --config " + kSource + "/configs/train/binary.yaml data.dir=" + bad.path() +
      " output.repository=" + bad.Join("models") + " output.report_dir=" + bad.Join("reports"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("card_class_b_embeddings.h5"));
  EXPECT_FALSE(fs::exists(bad.Join("models")));
}

TEST_F(TrainerCliTest, EvalRefusesAModelWhoseFileDoesNotMatchItsCard) {
  TempDir repo;
  auto fit = RunCommand(
      kTrain + " fit --config " + kSource +
      "/configs/train/binary.yaml experiment.epochs=1 data.dir=" + work_->Join("data") +
      " output.repository=" + repo.path() + " output.report_dir=" + repo.Join("reports"));
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  const std::string v1 = repo.Join("betalactamase-binary/1");
  std::ofstream(v1 + "/model.pt", std::ios::app) << "tampered";
  auto r = RunCommand(kTrain + " eval --model " + v1 + " --data " + work_->Join("data"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("does not match"));
}

}  // namespace
}  // namespace arginator
