#include "trainer/calibration.h"

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::trainer {
namespace {

// Three classes; each row's truth drawn from softmax(z), its recorded probabilities
// softmax(3 z): an over-confident model whose right temperature is 3.
struct Sample {
  std::vector<float> probs;
  std::vector<int> truth;
};

Sample OverConfident(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1.5);
  std::uniform_real_distribution<double> uniform(0, 1);
  Sample s;
  for (int i = 0; i < n; ++i) {
    double z[3], p[3], q[3], zs = 0, qs = 0;
    for (int c = 0; c < 3; ++c) {
      z[c] = normal(rng);
      zs += p[c] = std::exp(z[c]);
      qs += q[c] = std::exp(3 * z[c]);
    }
    double u = uniform(rng) * zs;
    int truth = 0;
    while (truth < 2 && u > p[truth]) u -= p[truth++];
    s.truth.push_back(truth);
    for (double v : q) s.probs.push_back(static_cast<float>(v / qs));
  }
  return s;
}

TEST(CalibrationTest, TemperatureScalingRecoversTheOverConfidenceAndLowersHeldOutEce) {
  const Sample fit = OverConfident(4000, 1), held_out = OverConfident(4000, 2);
  const double t = FitTemperature(fit.probs, fit.truth, 3);
  EXPECT_NEAR(t, 3.0, 0.3);
  const double before = ExpectedCalibrationError(held_out.probs, held_out.truth, 3);
  const double after =
      ExpectedCalibrationError(CalibrateAll(held_out.probs, 3, t), held_out.truth, 3);
  EXPECT_GT(before, 0.1) << "the sample is over-confident";
  EXPECT_LT(after, before / 3) << "before " << before << ", after " << after;
}

TEST(CalibrationTest, AWellCalibratedModelKeepsTemperatureOne) {
  // 80% right at 0.8 exactly: scaling can only make it worse.
  std::vector<float> probs;
  std::vector<int> truth;
  for (int i = 0; i < 100; ++i) {
    probs.insert(probs.end(), {0.8f, 0.2f});
    truth.push_back(i % 5 == 0 ? 1 : 0);
  }
  EXPECT_NEAR(FitTemperature(probs, truth, 2), 1.0, 1e-3);
  EXPECT_NEAR(ExpectedCalibrationError(probs, truth, 2), 0.0, 1e-6);
}

TEST(CalibrationTest, ReliabilityBinsHoldEachRowOnce) {
  const Sample s = OverConfident(500, 3);
  int64_t total = 0;
  for (const ReliabilityBin& bin : Reliability(s.probs, s.truth, 3, 10)) {
    total += bin.count;
    if (bin.count > 0) {
      EXPECT_GE(bin.confidence, bin.lo);
      EXPECT_LE(bin.confidence, bin.hi);
    }
  }
  EXPECT_EQ(total, 500);
}

std::vector<float> TwoClassRows(const std::vector<float>& top_of_class0) {
  std::vector<float> probs;
  for (float p : top_of_class0) probs.insert(probs.end(), {p, 1 - p});
  return probs;
}

TEST(CalibrationTest, PrecisionObjectiveTakesTheLowestThresholdReachingTheTarget) {
  // Rows whose top label is 0, most probable first: right, right, right, wrong, right, wrong.
  const std::vector<float> probs = TwoClassRows({0.99f, 0.95f, 0.9f, 0.8f, 0.7f, 0.6f});
  const std::vector<int> truth = {0, 0, 0, 1, 0, 1};
  const std::vector<LabelThreshold> at_75 = ChooseThresholds(probs, truth, 2, "precision", 0.75);
  ASSERT_TRUE(at_75[0].threshold.has_value());
  EXPECT_FLOAT_EQ(*at_75[0].threshold, 0.7f) << "4 of 5 right at 0.7 (0.8 >= 0.75)";
  EXPECT_EQ(at_75[0].called, 5);
  EXPECT_DOUBLE_EQ(at_75[0].precision, 0.8);
  EXPECT_DOUBLE_EQ(at_75[0].recall, 1.0);
  const std::vector<LabelThreshold> at_100 = ChooseThresholds(probs, truth, 2, "precision", 1.0);
  EXPECT_FLOAT_EQ(*at_100[0].threshold, 0.9f) << "only the first three are all right";
  EXPECT_FALSE(at_100[1].threshold.has_value()) << "label 1 is never the top label";
  EXPECT_EQ(at_100[1].support, 2);
}

TEST(CalibrationTest, TiedProbabilitiesAreCalledTogether) {
  const std::vector<float> probs = TwoClassRows({0.9f, 0.8f, 0.8f});
  const std::vector<int> truth = {0, 0, 1};
  // At 0.8 both tied rows are called: 2 of 3 right, so a 0.9 target stops at 0.9.
  const std::vector<LabelThreshold> t = ChooseThresholds(probs, truth, 2, "precision", 0.9);
  EXPECT_FLOAT_EQ(*t[0].threshold, 0.9f);
  EXPECT_EQ(t[0].called, 1);
}

TEST(CalibrationTest, F1ObjectiveTakesTheBestF1Threshold) {
  const std::vector<float> probs = TwoClassRows({0.99f, 0.95f, 0.9f, 0.8f, 0.7f, 0.6f});
  const std::vector<int> truth = {0, 0, 0, 1, 0, 1};
  const std::vector<LabelThreshold> t = ChooseThresholds(probs, truth, 2, "f1", 0);
  // F1 at 0.9: 2*1*0.75/1.75 = 0.857; at 0.7: 2*0.8*1/1.8 = 0.889; at 0.6: 0.8.
  EXPECT_FLOAT_EQ(*t[0].threshold, 0.7f);
}

}  // namespace
}  // namespace arginator::trainer
