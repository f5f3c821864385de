#include "server/serving/postprocess.h"

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
  ASSERT_TRUE(Postprocess(RowsView(probs.data(), 3, 3), norms, Card(), out).ok());
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
  ASSERT_TRUE(Postprocess(RowsView(probs.data(), 1, 3), {5.0f}, Card(), out).ok());
  EXPECT_EQ(out.rows[0].class_index, 0);
  EXPECT_FALSE(out.rows[0].out_of_distribution);
  ASSERT_TRUE(Postprocess(RowsView(probs.data(), 1, 3), {7.0f}, Card(), out).ok());
  EXPECT_FALSE(out.rows[0].out_of_distribution);
}

TEST(PostprocessTest, AReusedResultHoldsOnlyTheLatestRequest) {
  const std::vector<float> two = {0.9f, 0.05f, 0.05f, 0.9f, 0.05f, 0.05f};
  const std::vector<float> one = {0.05f, 0.05f, 0.9f};
  Verdicts out;
  ASSERT_TRUE(Postprocess(RowsView(two.data(), 2, 3), {6.f, 1.f}, Card(), out).ok());
  ASSERT_TRUE(Postprocess(RowsView(one.data(), 1, 3), {6.f}, Card(), out).ok());
  EXPECT_EQ(out.rows.size(), 1u);
  EXPECT_THAT(out.label_counts, ElementsAre(0, 0, 1));
  EXPECT_EQ(out.out_of_distribution, 0);
}

// Issue 11, item 11: inputs the model cannot compute answered NaN scores with status OK.
TEST(PostprocessTest, ANonFiniteProbabilityIsAnErrorNamingTheRow) {
  const std::vector<float> probs = {0.5f, 0.25f, 0.25f, NAN, 0.f, 0.f};
  Verdicts out;
  absl::Status s = Postprocess(RowsView(probs.data(), 2, 3), {6.f, 6.f}, Card(), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("embedding 1 is not finite"));
}

}  // namespace
}  // namespace arginator::server
