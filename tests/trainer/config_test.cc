#include "trainer/config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator::trainer {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(TrainConfigTest, DefaultsMatchThePrototype) {
  auto c = LoadTrainConfig("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->task, "binary");
  EXPECT_EQ(c->model.kind, "ffnn");
  EXPECT_EQ(c->model.hidden, (std::vector<int>{256, 128}));
  EXPECT_DOUBLE_EQ(c->model.dropout, 0.2);
  EXPECT_DOUBLE_EQ(c->experiment.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c->experiment.weight_decay, 1e-4);
  EXPECT_EQ(c->experiment.batch_size, 32);
  // Issue 25: sized for a lab's data set (the prototype's 5 epochs, patience 3 underfit ~1k
  // proteins); configs/train/*.yaml keep 5 for the large synthetic set.
  EXPECT_EQ(c->experiment.epochs, 30);
  EXPECT_EQ(c->experiment.patience, 5);
  EXPECT_DOUBLE_EQ(c->publish.min_macro_f1, 0.5);
  EXPECT_EQ(c->experiment.seed, 42u);
  EXPECT_DOUBLE_EQ(c->data.train_fraction, 0.7);
  EXPECT_EQ(c->output.name, "betalactamase-binary");
}

TEST(TrainConfigTest, FileThenOverridesWin) {
  TempDir dir;
  std::ofstream(dir.Join("c.yaml")) << "task: multiclass\nexperiment:\n  epochs: 9\n  lr: 0.01\n";
  auto c = LoadTrainConfig(dir.Join("c.yaml"),
                           {"experiment.epochs=12", "model.hidden=[64, 32]", "model.kind=logreg"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->task, "multiclass");
  EXPECT_EQ(c->experiment.epochs, 12);
  EXPECT_DOUBLE_EQ(c->experiment.lr, 0.01);
  EXPECT_EQ(c->model.hidden, (std::vector<int>{64, 32}));
  EXPECT_EQ(c->model.kind, "logreg");
  EXPECT_EQ(c->output.name, "betalactamase-class");
  EXPECT_EQ(c->resolved["experiment"]["epochs"].as<int>(), 12);  // saved config is the resolved one
}

TEST(TrainConfigTest, UnknownKeyListsValidKeys) {
  auto c = LoadTrainConfig("", {"experiment.epoch=3"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("'experiment.epoch'"));
  EXPECT_THAT(c.status().message(), HasSubstr("experiment.epochs"));
  EXPECT_THAT(c.status().message(), HasSubstr("model.dropout"));

  TempDir dir;
  std::ofstream(dir.Join("c.yaml")) << "model:\n  widths: [1]\n";
  c = LoadTrainConfig(dir.Join("c.yaml"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("'model.widths'"));
  EXPECT_THAT(c.status().message(), HasSubstr("c.yaml"));
}

TEST(TrainConfigTest, BadValuesNameTheKey) {
  EXPECT_THAT(LoadTrainConfig("", {"experiment.lr=fast"}).status().message(),
              HasSubstr("experiment.lr"));
  EXPECT_THAT(LoadTrainConfig("", {"model.dropout=1.5"}).status().message(),
              HasSubstr("model.dropout"));
  EXPECT_THAT(LoadTrainConfig("", {"task=regression"}).status().message(), HasSubstr("regression"));
  EXPECT_THAT(LoadTrainConfig("", {"data.split.train=0.9"}).status().message(),
              HasSubstr("sum to 1"));
  EXPECT_THAT(LoadTrainConfig("", {"noequals"}).status().message(), HasSubstr("key=value"));
  EXPECT_EQ(LoadTrainConfig("/nonexistent.yaml", {}).status().code(), absl::StatusCode::kNotFound);
}

// A mapping or sequence where a key name goes made yaml-cpp throw out of LoadLayeredYaml, which
// aborted arginator-train and arginator-server (found by tests/fuzz/config_fuzz.cc).
TEST(TrainConfigTest, ComplexKeysAreErrorsNotExceptions) {
  TempDir dir;
  std::ofstream(dir.Join("seq.yaml")) << "? [a, b]\n: 1\n";
  auto c = LoadTrainConfig(dir.Join("seq.yaml"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("key at '<root>' is a sequence, not a name: [a, b]"));
  std::ofstream(dir.Join("nested.yaml")) << "experiment:\n  {x: 1}: 2\n";
  c = LoadTrainConfig(dir.Join("nested.yaml"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("key at 'experiment' is a mapping"));
  c = LoadTrainConfig("", {"data={[1]: 2}"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("override: a key at 'data' is a sequence"));
}

TEST(TrainConfigTest, TheShippedConfigsLoad) {
  for (const char* path :
       {"configs/train/binary.yaml", "configs/train/multiclass.yaml", "configs/sweep.yaml"}) {
    auto c = LoadTrainConfig(std::string(ARGINATOR_SOURCE_DIR) + "/" + path, {});
    EXPECT_TRUE(c.ok()) << path << ": " << c.status();
  }
  EXPECT_EQ(
      LoadTrainConfig(std::string(ARGINATOR_SOURCE_DIR) + "/configs/train/multiclass.yaml", {})
          ->output.name,
      "betalactamase-class");
}

}  // namespace
}  // namespace arginator::trainer

namespace arginator::trainer {
namespace {

// Issue 25: `data.classes.class_B=` (YAML null) leaves the class out instead of looking for a file
// named 'null'; the labels-table keys are read and checked.
TEST(ConfigTest, AnEmptyClassFileLeavesTheClassOutAndLabelKeysAreRead) {
  auto c = LoadTrainConfig("", {"data.classes.class_B=", "data.labels=labels.tsv",
                                "data.embeddings=[a.h5, 'b*.csv']", "data.label_set=[x, y]"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data.class_files.at("class_B"), "");
  EXPECT_EQ(c->data.labels, "labels.tsv");
  EXPECT_EQ(c->data.embeddings, (std::vector<std::string>{"a.h5", "b*.csv"}));
  EXPECT_EQ(c->data.label_set, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c->data.label_errors, "error");
  EXPECT_FALSE(LoadTrainConfig("", {"data.label_errors=ignore"}).ok());
}

}  // namespace
}  // namespace arginator::trainer
