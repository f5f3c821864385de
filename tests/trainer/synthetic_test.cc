#include "trainer/synthetic.h"

#include "common/hdf5_embeddings.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "trainer/config.h"

namespace arginator::trainer {
namespace {

TEST(SyntheticTest, DeterministicBySeed) {
  auto a = GenerateSynthetic({0.01, 5});
  auto b = GenerateSynthetic({0.01, 5});
  auto c = GenerateSynthetic({0.01, 6});
  EXPECT_EQ(a.at("class_B").values, b.at("class_B").values);
  EXPECT_NE(a.at("class_B").values, c.at("class_B").values);
}

TEST(SyntheticTest, CountsFollowTheScaleWithRealisticImbalance) {
  auto data = GenerateSynthetic({0.1, 1});
  ASSERT_EQ(data.size(), ClassNames().size());
  EXPECT_EQ(data.at("non_betalactamase").rows(), 6000u);
  EXPECT_EQ(data.at("class_A").rows(), 300u);
  EXPECT_EQ(data.at("class_D").rows(), 110u);
  EXPECT_GT(data.at("non_betalactamase").rows(), 10 * data.at("class_A").rows());
}

TEST(SyntheticTest, NormsAreNearConstantLikeProtT5) {
  auto data = GenerateSynthetic({0.02, 3});
  const EmbeddingMatrix& m = data.at("non_betalactamase");
  for (size_t i = 0; i < m.rows(); ++i) {
    double n = RowL2Norm(m.row(i), m.dim);
    EXPECT_GT(n, 5.0);
    EXPECT_LT(n, 7.4);
  }
}

TEST(SyntheticTest, FilesUseTheSeedLayoutAndAreMarkedSynthetic) {
  testing::TempDir dir;
  auto paths = WriteSyntheticDataset(dir.path(), {0.01, 2});
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->at("class_A"), dir.Join("card_class_a_embeddings.h5"));
  auto attrs = ReadRootAttributesH5(paths->at("non_betalactamase"));
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->at("synthetic"), "true");
  auto read = ReadEmbeddingsH5(paths->at("class_C"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->dim, 1024);
}

}  // namespace
}  // namespace arginator::trainer
