#include "trainer/metrics.h"

#include <cmath>

#include "gtest/gtest.h"
#include "trainer/bootstrap.h"

namespace arginator::trainer {
namespace {

const std::vector<std::string> kBinary = {"non_betalactamase", "betalactamase"};

std::vector<float> TwoColumn(const std::vector<float>& positive) {
  std::vector<float> probs;
  for (float p : positive) {
    probs.push_back(1 - p);
    probs.push_back(p);
  }
  return probs;
}

TEST(MetricsTest, BinaryMatchesHandComputedValues) {
  std::vector<int> truth = {0, 0, 1, 1, 1, 0};
  std::vector<float> positive = {0.1f, 0.6f, 0.7f, 0.4f, 0.9f, 0.2f};
  ClassificationMetrics m = Evaluate(truth, TwoColumn(positive), kBinary);
  // Predictions 0 1 1 0 1 0: TP 2, FP 1, FN 1, TN 2.
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3);
  EXPECT_NEAR(m.f1, 2.0 / 3, 1e-12);
  // 8 of the 9 (positive, negative) pairs are ordered correctly.
  EXPECT_NEAR(m.roc_auc, 8.0 / 9, 1e-12);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{2, 1}, {1, 2}}));
  double loss = -(std::log(0.9) + std::log(0.4) + std::log(0.7) + std::log(0.4) + std::log(0.9) +
                  std::log(0.8)) /
                6;
  EXPECT_NEAR(m.loss, loss, 1e-6);
  EXPECT_EQ(m.per_class[0].support, 3);
  EXPECT_NEAR(m.per_class[0].precision, 2.0 / 3, 1e-12);
}

TEST(MetricsTest, MulticlassUsesMacroAverages) {
  std::vector<int> truth = {0, 1, 2, 2};
  // Predicted 0, 2, 2, 1.
  std::vector<float> probs = {0.8f, 0.1f, 0.1f, 0.1f, 0.2f, 0.7f,
                              0.1f, 0.2f, 0.7f, 0.1f, 0.6f, 0.3f};
  ClassificationMetrics m = Evaluate(truth, probs, {"a", "b", "c"});
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_NEAR(m.per_class[0].f1, 1.0, 1e-12);
  EXPECT_NEAR(m.per_class[1].f1, 0.0, 1e-12);
  EXPECT_NEAR(m.per_class[2].precision, 0.5, 1e-12);
  EXPECT_NEAR(m.per_class[2].recall, 0.5, 1e-12);
  EXPECT_NEAR(m.f1, 0.5, 1e-12);
  EXPECT_NEAR(m.precision, 0.5, 1e-12);
  EXPECT_EQ(m.roc.size(), 3u);
  // Class a vs rest: score 0.8 for the only positive beats all three negatives.
  EXPECT_NEAR(m.roc[0].auc, 1.0, 1e-12);
}

TEST(MetricsTest, RocHandlesTiesAndDegenerateTruth) {
  EXPECT_NEAR(ComputeRoc({0.5, 0.5}, {true, false}).auc, 0.5, 1e-12);
  RocCurve perfect = ComputeRoc({0.9, 0.8, 0.1}, {true, true, false});
  EXPECT_NEAR(perfect.auc, 1.0, 1e-12);
  EXPECT_EQ(perfect.fpr.front(), 0);
  EXPECT_EQ(perfect.tpr.back(), 1);
  EXPECT_TRUE(std::isnan(ComputeRoc({0.3, 0.4}, {true, true}).auc));
}

TEST(MetricsTest, JsonHasTheReportedFields) {
  ClassificationMetrics m = Evaluate({0, 1}, TwoColumn({0.2f, 0.9f}), kBinary);
  nlohmann::json j = MetricsToJson(m);
  for (const char* key : {"accuracy", "precision", "recall", "f1", "roc_auc", "loss",
                          "confusion_matrix", "per_class"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["per_class"]["betalactamase"]["support"], 1);
}

}  // namespace
}  // namespace arginator::trainer

namespace arginator::trainer {
namespace {

// Issue 25: a class with F1 1.0 on 9 proteins read as perfect; every reported metric now has a
// bootstrap interval, wide where the test set is small.
TEST(BootstrapTest, IntervalsCoverTheFigureAndWidenWithFewProteins) {
  std::vector<int> truth;
  std::vector<float> probs;
  for (int i = 0; i < 400; ++i) {
    const int t = i % 4 == 0 ? 1 : 0;
    const bool right = i % 10 != 0;  // 90% right
    truth.push_back(t);
    const float p1 = (t == 1) == right ? 0.8f : 0.2f;
    probs.insert(probs.end(), {1 - p1, p1});
  }
  const std::vector<std::string> labels = {"non_betalactamase", "betalactamase"};
  const auto big = BootstrapIntervals(truth, probs, labels, 300, 0.95, 1);
  const double accuracy = Evaluate(truth, probs, labels).accuracy;
  EXPECT_LE(big["accuracy"][0].get<double>(), accuracy);
  EXPECT_GE(big["accuracy"][1].get<double>(), accuracy);
  EXPECT_TRUE(big["per_class"]["betalactamase"].contains("f1"));
  EXPECT_TRUE(big.contains("roc_auc") && big.contains("macro_f1"));
  const std::vector<int> few(truth.begin(), truth.begin() + 12);
  const std::vector<float> few_probs(probs.begin(), probs.begin() + 24);
  const auto small = BootstrapIntervals(few, few_probs, labels, 300, 0.95, 1);
  const auto width = [](const nlohmann::json& j) {
    return j["accuracy"][1].get<double>() - j["accuracy"][0].get<double>();
  };
  EXPECT_GT(width(small), 2 * width(big));
  EXPECT_EQ(BootstrapIntervals(truth, probs, labels, 300, 0.95, 1), big);  // seeded
}

}  // namespace
}  // namespace arginator::trainer
