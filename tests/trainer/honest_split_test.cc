// Issue 25: the random split put near-identical variants of one enzyme (TEM-1 and TEM-116 differ by
// one residue) in train and test. Group and similarity splits keep each cluster in one part.
#include <map>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trainer/similarity_groups.h"
#include "trainer/split.h"

namespace arginator::trainer {
namespace {

// `families` random directions with `variants` near-copies each (cosine ~0.99 within a family,
// ~0 across): a family is what a CD-HIT cluster would be.
EmbeddingMatrix Families(int families, int variants, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  EmbeddingMatrix x;
  x.dim = dim;
  for (int f = 0; f < families; ++f) {
    std::vector<float> centre(dim);
    for (float& v : centre) v = normal(rng);
    for (int k = 0; k < variants; ++k) {
      for (int j = 0; j < dim; ++j) x.values.push_back(centre[j] + 0.1f * normal(rng));
      x.ids.push_back("F" + std::to_string(f) + "_" + std::to_string(k));
    }
  }
  return x;
}

std::map<std::string, std::set<int>> PartsOfGroup(const std::vector<std::string>& groups,
                                                  const SplitIndices& split) {
  std::map<std::string, std::set<int>> parts;
  int part = 0;
  for (const auto* rows : {&split.train, &split.val, &split.test}) {
    for (size_t r : *rows) parts[groups[r]].insert(part);
    ++part;
  }
  return parts;
}

TEST(HonestSplitTest, AGroupSplitNeverPutsOneGroupInTwoParts) {
  std::vector<std::string> groups;
  std::vector<int> strata;
  for (int g = 0; g < 60; ++g) {
    for (int k = 0; k <= g % 4; ++k) {
      groups.push_back("cluster" + std::to_string(g));
      strata.push_back(g % 3);
    }
  }
  const SplitIndices split = GroupSplit(strata, groups, 0.15, 0.15, 42);
  for (const auto& [group, parts] : PartsOfGroup(groups, split)) {
    EXPECT_EQ(parts.size(), 1u) << group;
  }
  EXPECT_EQ(split.train.size() + split.val.size() + split.test.size(), groups.size());
  EXPECT_GT(split.val.size(), 0u);
  EXPECT_GT(split.test.size(), 0u);
  EXPECT_GT(split.train.size(), groups.size() / 2);
  const SplitIndices again = GroupSplit(strata, groups, 0.15, 0.15, 42);
  EXPECT_EQ(again.test, split.test);  // deterministic for the seed
}

TEST(HonestSplitTest, SimilarityGroupsAreTheFamiliesAndNoTestProteinHasANearDuplicateInTraining) {
  const EmbeddingMatrix x = Families(40, 3, 64, 7);
  const std::vector<std::string> groups = SimilarityGroups(x, 0.9);
  std::set<std::string> distinct(groups.begin(), groups.end());
  EXPECT_EQ(distinct.size(), 40u);
  for (size_t i = 0; i < x.rows(); ++i) EXPECT_EQ(groups[i], groups[i - i % 3]) << x.ids[i];

  std::vector<int> strata(x.rows(), 0);
  const SplitIndices by_protein = StratifiedSplit(strata, 0.15, 0.15, 1);
  const SplitIndices by_group = GroupSplit(strata, groups, 0.15, 0.15, 1);
  // A random split leaves variants of one family on both sides; the cluster split does not.
  EXPECT_GT(NearestTrainTestSimilarity(x, by_protein).max, 0.9);
  const TrainTestSimilarity nearest = NearestTrainTestSimilarity(x, by_group);
  EXPECT_LT(nearest.max, 0.9);
  EXPECT_FALSE(nearest.test_id.empty());
}

// Components, not pairs: a chain a~b~c is one cluster though a and c are further apart.
TEST(HonestSplitTest, SimilarityGroupsJoinChains) {
  EmbeddingMatrix x;
  x.dim = 2;
  x.ids = {"a", "b", "c", "far"};
  x.values = {1, 0, 0.9f, 0.436f, 0.62f, 0.785f, -1, 0};  // a-b 0.90, b-c 0.90, a-c 0.62
  const std::vector<std::string> groups = SimilarityGroups(x, 0.85);
  EXPECT_EQ(groups[0], groups[1]);
  EXPECT_EQ(groups[1], groups[2]);
  EXPECT_NE(groups[0], groups[3]);
}

}  // namespace
}  // namespace arginator::trainer
