#include "trainer/split.h"

#include <algorithm>
#include <map>
#include <set>

#include "gtest/gtest.h"

namespace arginator::trainer {
namespace {

std::vector<int> Strata() {
  std::vector<int> s;
  for (int i = 0; i < 1000; ++i) s.push_back(0);
  for (int i = 0; i < 200; ++i) s.push_back(1);
  for (int i = 0; i < 40; ++i) s.push_back(2);
  return s;
}

TEST(StratifiedSplitTest, PartsAreDisjointCoverEverythingAndKeepProportions) {
  std::vector<int> strata = Strata();
  SplitIndices s = StratifiedSplit(strata, 0.15, 0.15, 42);
  std::set<size_t> all;
  for (auto* part : {&s.train, &s.val, &s.test}) all.insert(part->begin(), part->end());
  EXPECT_EQ(all.size(), strata.size());
  EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), strata.size());
  auto count = [&](const std::vector<size_t>& part, int c) {
    return std::count_if(part.begin(), part.end(), [&](size_t i) { return strata[i] == c; });
  };
  EXPECT_EQ(count(s.val, 0), 150);
  EXPECT_EQ(count(s.val, 1), 30);
  EXPECT_EQ(count(s.val, 2), 6);
  EXPECT_EQ(count(s.test, 2), 6);
  EXPECT_EQ(count(s.train, 2), 28);
}

TEST(StratifiedSplitTest, SameSeedSameSplitOtherSeedOtherSplit) {
  std::vector<int> strata = Strata();
  SplitIndices a = StratifiedSplit(strata, 0.15, 0.15, 42);
  SplitIndices b = StratifiedSplit(strata, 0.15, 0.15, 42);
  SplitIndices c = StratifiedSplit(strata, 0.15, 0.15, 43);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_NE(a.test, c.test);
}

TEST(BalancedSamplerTest, DrawsEveryClassEquallyOften) {
  std::vector<size_t> rows;
  std::vector<int> labels;
  for (size_t i = 0; i < 1000; ++i) {
    rows.push_back(i);
    labels.push_back(i < 950 ? 0 : 1);  // 95:5 imbalance
  }
  BalancedSampler sampler(rows, labels);
  std::vector<size_t> drawn = sampler.Sample(20000, 1);
  ASSERT_EQ(drawn.size(), 20000u);
  size_t minority = std::count_if(drawn.begin(), drawn.end(), [](size_t r) { return r >= 950; });
  EXPECT_NEAR(static_cast<double>(minority) / drawn.size(), 0.5, 0.02);
  std::set<size_t> distinct_minority;
  for (size_t r : drawn) {
    if (r >= 950) distinct_minority.insert(r);
  }
  EXPECT_EQ(distinct_minority.size(), 50u);  // uniform within a class: all of them appear
}

TEST(BalancedSamplerTest, DeterministicForTheSeed) {
  std::vector<size_t> rows = {10, 11, 12, 13};
  std::vector<int> labels = {0, 0, 0, 1};
  BalancedSampler sampler(rows, labels);
  EXPECT_EQ(sampler.Sample(50, 9), sampler.Sample(50, 9));
  EXPECT_NE(sampler.Sample(50, 9), sampler.Sample(50, 10));
  for (size_t r : sampler.Sample(50, 9)) EXPECT_TRUE(r >= 10 && r <= 13);
}

}  // namespace
}  // namespace arginator::trainer
