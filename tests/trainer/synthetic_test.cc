#include "trainer/synthetic.h"

#include <cmath>

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

// Class A's direction: its mean minus the non-beta-lactamases' mean (removes the shared base).
std::vector<double> ClassADirection(const std::map<std::string, EmbeddingMatrix>& data) {
  const EmbeddingMatrix& a = data.at("class_A");
  const EmbeddingMatrix& n = data.at("non_betalactamase");
  std::vector<double> d(a.dim, 0);
  for (size_t i = 0; i < a.rows(); ++i) {
    for (int j = 0; j < a.dim; ++j) d[j] += a.row(i)[j] / a.rows();
  }
  for (size_t i = 0; i < n.rows(); ++i) {
    for (int j = 0; j < n.dim; ++j) d[j] -= n.row(i)[j] / n.rows();
  }
  return d;
}

double Cosine(const std::vector<double>& x, const std::vector<double>& y) {
  double dot = 0, nx = 0, ny = 0;
  for (size_t j = 0; j < x.size(); ++j) {
    dot += x[j] * y[j];
    nx += x[j] * x[j];
    ny += y[j] * y[j];
  }
  return dot / std::sqrt(nx * ny);
}

TEST(SyntheticTest, SampleSeedDrawsNewProteinsFromTheSameWorld) {
  auto world = GenerateSynthetic({0.05, 5});
  SyntheticOptions held_out{0.05, 5};
  held_out.sample_seed = 9;
  auto sample = GenerateSynthetic(held_out);
  auto other_world = GenerateSynthetic({0.05, 6});
  EXPECT_NE(world.at("class_A").values, sample.at("class_A").values);
  const double same = Cosine(ClassADirection(world), ClassADirection(sample));
  const double other = Cosine(ClassADirection(world), ClassADirection(other_world));
  EXPECT_GT(same, 0.8);
  EXPECT_LT(other, 0.3);
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
