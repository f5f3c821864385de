#include "server/serving/postprocess.h"

#include <cmath>
#include <limits>
#include <memory>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;

ModelCard Card() {
  ModelCard card;
  card.labels = {"class_A", "class_B", "non_betalactamase"};
  card.input_norm.min = 5.0;
  card.input_norm.max = 7.0;
  return card;
}

TEST(PostprocessTest, ArgmaxScoreAndOutOfDistributionPerRow) {
  const std::vector<float> probs = {0.2f, 0.7f,  0.1f,    // B
                                    0.1f, 0.1f,  0.8f,    // non-BL
                                    0.5f, 0.25f, 0.25f};  // A
  const std::vector<float> norms = {6.0f, 4.9f, 7.5f};
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 3, 3), RowsView(), norms, Card(), nullptr, out).ok());
  ASSERT_EQ(out.rows.size(), 3u);
  EXPECT_EQ(out.rows[0].class_index, 1);
  EXPECT_FLOAT_EQ(out.rows[0].score, 0.7f);
  EXPECT_FALSE(out.rows[0].out_of_distribution);
  EXPECT_EQ(out.rows[1].class_index, 2);
  EXPECT_TRUE(out.rows[1].out_of_distribution) << "norm below the training range";
  EXPECT_EQ(out.rows[2].class_index, 0);
  EXPECT_TRUE(out.rows[2].out_of_distribution) << "norm above the training range";
  EXPECT_THAT(out.label_counts, ElementsAre(1, 1, 1));
  EXPECT_EQ(out.out_of_distribution, 2);
}

TEST(PostprocessTest, TiesGoToTheFirstLabelAndRangeEndsAreInDistribution) {
  const std::vector<float> probs = {0.4f, 0.4f, 0.2f};
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {5.0f}, Card(), nullptr, out).ok());
  EXPECT_EQ(out.rows[0].class_index, 0);
  EXPECT_FALSE(out.rows[0].out_of_distribution);
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {7.0f}, Card(), nullptr, out).ok());
  EXPECT_FALSE(out.rows[0].out_of_distribution);
}

TEST(PostprocessTest, AReusedResultHoldsOnlyTheLatestRequest) {
  const std::vector<float> two = {0.9f, 0.05f, 0.05f, 0.9f, 0.05f, 0.05f};
  const std::vector<float> one = {0.05f, 0.05f, 0.9f};
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(two.data(), 2, 3), RowsView(), {6.f, 1.f}, Card(), nullptr, out).ok());
  ASSERT_TRUE(
      Postprocess(RowsView(one.data(), 1, 3), RowsView(), {6.f}, Card(), nullptr, out).ok());
  EXPECT_EQ(out.rows.size(), 1u);
  EXPECT_THAT(out.label_counts, ElementsAre(0, 0, 1));
  EXPECT_EQ(out.out_of_distribution, 0);
}

// Issue 11, item 11: inputs the model cannot compute answered NaN scores with status OK.
TEST(PostprocessTest, ANonFiniteProbabilityIsAnErrorNamingTheRow) {
  const std::vector<float> probs = {0.5f, 0.25f, 0.25f, NAN, 0.f, 0.f};
  Verdicts out;
  absl::Status s =
      Postprocess(RowsView(probs.data(), 2, 3), RowsView(), {6.f, 6.f}, Card(), nullptr, out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("embedding 1 is not finite"));
}

// Issue 26: the decision policy of the card, applied to every answer.
ModelCard PolicyCard() {
  ModelCard card = Card();
  card.decision.present = true;
  card.decision.temperature = 1.0;
  card.decision.thresholds = {0.6, 0.6, 0.5};
  card.decision.high = 0.9;
  return card;
}

float Calibrated(std::vector<float> row, double temperature, int at) {
  CalibrateRow(row.data(), static_cast<int>(row.size()), temperature, row.data());
  return row[static_cast<size_t>(at)];
}

TEST(PostprocessTest, AProbabilityJustBelowItsThresholdIsUncertain) {
  const std::vector<float> probs = {0.65f, 0.25f, 0.1f};
  ModelCard card = PolicyCard();
  const float calibrated = Calibrated(probs, 1.0, 0);
  Verdicts out;
  card.decision.thresholds[0] = calibrated;  // at the threshold: called
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {6.f}, card, nullptr, out).ok());
  EXPECT_EQ(out.rows[0].call, 0);
  EXPECT_EQ(CallName(card, out.rows[0]), "class_A");
  EXPECT_EQ(out.rows[0].confidence, Confidence::kMedium);
  EXPECT_FLOAT_EQ(out.rows[0].call_probability, calibrated);
  card.decision.thresholds[0] = std::nextafter(calibrated, 1.0f);  // just above it: uncertain
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {6.f}, card, nullptr, out).ok());
  EXPECT_EQ(out.rows[0].call, -1);
  EXPECT_EQ(CallName(card, out.rows[0]), "uncertain");
  EXPECT_EQ(out.rows[0].confidence, Confidence::kLow);
  EXPECT_EQ(out.rows[0].class_index, 0) << "the model's own top label stays in the answer";
  EXPECT_FLOAT_EQ(out.rows[0].score, 0.65f);
  EXPECT_EQ(out.uncertain, 1);
}

TEST(PostprocessTest, ACallAtOrAboveHighIsHighConfidence) {
  const std::vector<float> probs = {0.02f, 0.03f, 0.95f};
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {6.f}, PolicyCard(), nullptr, out)
          .ok());
  EXPECT_EQ(out.rows[0].call, 2);
  EXPECT_EQ(out.rows[0].confidence, Confidence::kHigh);
}

TEST(PostprocessTest, ALabelWithoutAReachableThresholdIsNeverCalled) {
  const std::vector<float> probs = {0.01f, 0.98f, 0.01f};
  ModelCard card = PolicyCard();
  card.decision.thresholds[1] = std::numeric_limits<double>::infinity();
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {6.f}, card, nullptr, out).ok());
  EXPECT_EQ(out.rows[0].call, -1);
}

TEST(PostprocessTest, TemperatureScalesTheLogitsAndKeepsTheRawProbabilities) {
  const std::vector<float> probs = {0.8f, 0.15f, 0.05f};
  ModelCard card = PolicyCard();
  card.decision.temperature = 2.0;
  card.decision.thresholds[0] = 0.55;
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {6.f}, card, nullptr, out).ok());
  // softmax(log p / 2) = sqrt(p) renormalised.
  const double total = std::sqrt(0.8) + std::sqrt(0.15) + std::sqrt(0.05);
  EXPECT_NEAR(out.calibrated[0], std::sqrt(0.8) / total, 1e-6);
  EXPECT_NEAR(out.calibrated[2], std::sqrt(0.05) / total, 1e-6);
  EXPECT_NEAR(out.rows[0].call_probability, std::sqrt(0.8) / total, 1e-6);
  EXPECT_FLOAT_EQ(out.rows[0].score, 0.8f);
  EXPECT_EQ(out.rows[0].call, 0) << "0.594 passes the 0.55 threshold";
  EXPECT_EQ(out.rows[0].confidence, Confidence::kMedium) << "0.8 was High before calibration";
}

TEST(PostprocessTest, TheDensityDetectorFlagsAnInputOffTheTrainingSubspace) {
  // Training data along the first axis (variance 4), almost nothing elsewhere (0.01).
  DensityModel density;
  density.dim = 4;
  density.mean = {0, 0, 0, 0};
  density.components = {1, 0, 0, 0};
  density.eigenvalues = {4.0};
  density.residual_variance = 0.01;
  density.Prepare();
  ModelCard card = PolicyCard();
  card.input_norm = {0, 0, 0.0, 10.0, {}};
  card.decision.ood_cutoff = 2.0;
  const std::vector<float> inputs = {2, 0, 0, 0,   // one standard deviation along the data
                                     0, 2, 0, 0};  // the same norm, across it
  const std::vector<float> probs = {0.98f, 0.01f, 0.01f, 0.98f, 0.01f, 0.01f};
  Verdicts out;
  ASSERT_TRUE(Postprocess(RowsView(probs.data(), 2, 3), RowsView(inputs.data(), 2, 4), {2.f, 2.f},
                          card, &density, out)
                  .ok());
  EXPECT_NEAR(out.rows[0].ood_score, (4.0 / 4.0) / 4, 1e-6);
  EXPECT_FALSE(out.rows[0].out_of_distribution);
  EXPECT_EQ(out.rows[0].call, 0);
  EXPECT_NEAR(out.rows[1].ood_score, (4.0 / 0.01) / 4, 1e-3);
  EXPECT_TRUE(out.rows[1].out_of_distribution);
  EXPECT_EQ(out.rows[1].call, -1) << "out of distribution is uncertain, however confident";
  EXPECT_EQ(out.rows[1].confidence, Confidence::kLow);
  EXPECT_EQ(out.out_of_distribution, 1);
}

TEST(PostprocessTest, ADensityScoreIsTheSameAloneAndInAnyBatch) {
  // 1024-wide, 16 components: the projections are one BLAS product over the rows given.
  constexpr int kDim = 1024, kK = 16, kRows = 37;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  DensityModel density;
  density.dim = kDim;
  for (int j = 0; j < kDim; ++j) density.mean.push_back(0.01f * normal(rng));
  for (int i = 0; i < kK; ++i) {
    for (int j = 0; j < kDim; ++j) density.components.push_back(j == i ? 1.0f : 0.0f);
    density.eigenvalues.push_back(1.0 + i);
  }
  density.residual_variance = 0.05;
  density.Prepare();
  std::vector<float> x(kRows * kDim);
  for (float& v : x) v = 0.2f * normal(rng);
  std::vector<double> together(kRows);
  density.ScoreRows(x.data(), kRows, together.data());
  for (int r = 0; r < kRows; ++r) {
    EXPECT_EQ(density.Score(&x[r * kDim]), together[r]) << "row " << r;
    // The formula, term by term in double.
    double centred = 0, explained = 0, whitened = 0;
    for (int j = 0; j < kDim; ++j) {
      const double c = x[r * kDim + j] - density.mean[j];
      centred += c * c;
      if (j < kK) explained += c * c, whitened += c * c / (1.0 + j);
    }
    EXPECT_NEAR(together[r], (whitened + (centred - explained) / 0.05) / kDim, 1e-4 * together[r]);
  }
  std::vector<double> first_five(5);
  density.ScoreRows(x.data(), 5, first_five.data());
  for (int r = 0; r < 5; ++r) EXPECT_EQ(first_five[r], together[r]);
}

TEST(PostprocessTest, AVersionWithoutAPolicyCallsItsTopLabel) {
  const std::vector<float> probs = {0.3f, 0.5f, 0.2f};
  Verdicts out;
  ASSERT_TRUE(
      Postprocess(RowsView(probs.data(), 1, 3), RowsView(), {6.f}, Card(), nullptr, out).ok());
  EXPECT_EQ(out.rows[0].call, 1);
  EXPECT_EQ(out.rows[0].confidence, Confidence::kMedium);
  EXPECT_NEAR(out.rows[0].call_probability, 0.5f, 1e-6);
  EXPECT_EQ(out.rows[0].ood_score, 0.f);
}

// A search that answers fixed neighbours: row i's nearest references are i, i+1, ...
class FixedSearch : public ReferenceSearch {
 public:
  void Search(RowsView rows, int k, int64_t* indices, float* cosines) const override {
    for (int64_t i = 0; i < rows.rows; ++i) {
      for (int j = 0; j < k; ++j) {
        indices[i * k + j] = j < 2 ? i + j : -1;  // fewer references than asked past two
        cosines[i * k + j] = j < 2 ? 1.0f - 0.1f * static_cast<float>(j) : 0.f;
      }
      seen_norm = rows.row(i)[0] * rows.row(i)[0] + rows.row(i)[1] * rows.row(i)[1];
    }
  }
  mutable float seen_norm = 0;
};

TEST(PostprocessTest, EvidenceSaysWhenTheNearestReferenceDisagreesWithTheCall) {
  ReferenceSet references;
  references.ids = {"ref0", "ref1", "ref2"};
  references.labels = {0, 2, 2};  // class_A, non_betalactamase, non_betalactamase
  auto search = std::make_unique<FixedSearch>();
  const FixedSearch* fixed = search.get();
  references.search = std::move(search);
  const std::vector<float> probs = {0.95f, 0.03f, 0.02f,   // called class_A; nearest ref0: agrees
                                    0.96f, 0.02f, 0.02f,   // called class_A; nearest ref1: not
                                    0.40f, 0.30f, 0.30f};  // uncertain: never "disagrees"
  const std::vector<float> inputs = {3, 4, 6, 8, 0, 5};
  const std::vector<float> norms = {5, 10, 5};
  ModelCard card = PolicyCard();
  card.input_norm = {0, 0, 0.0, 20.0, {}};
  Verdicts out;
  ASSERT_TRUE(Postprocess(RowsView(probs.data(), 3, 3), RowsView(inputs.data(), 3, 2), norms, card,
                          nullptr, out)
                  .ok());
  FindEvidence(RowsView(inputs.data(), 3, 2), norms, references, 3, out);
  EXPECT_NEAR(fixed->seen_norm, 1.0f, 1e-6) << "the search sees unit-length rows";
  EXPECT_EQ(out.evidence_k, 3);
  EXPECT_THAT(out.evidence_index, ElementsAre(0, 1, -1, 1, 2, -1, 2, 3, -1));
  EXPECT_FALSE(out.rows[0].evidence_disagrees);
  EXPECT_TRUE(out.rows[1].evidence_disagrees);
  EXPECT_EQ(out.rows[2].call, -1);
  EXPECT_FALSE(out.rows[2].evidence_disagrees);
}

}  // namespace
}  // namespace arginator::server
