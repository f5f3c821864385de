#include "common/embedding_matrix.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace arginator {
namespace {

double ExactNorm(const std::vector<float>& row) {
  double sum = 0;
  for (float v : row) sum += static_cast<double>(v) * v;
  return std::sqrt(sum);
}

TEST(RowL2NormTest, MatchesTheExactNormForShortAndLongRows) {
  const std::vector<float> short_row = {3.f, 4.f, 12.f};  // shorter than one pass of the lanes
  EXPECT_DOUBLE_EQ(RowL2Norm(short_row.data(), 3), 13.0);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.3f);
  for (int dim : {16, 17, 1000, 1024}) {
    std::vector<float> row(dim);
    for (float& v : row) v = normal(rng);
    EXPECT_NEAR(RowL2Norm(row.data(), dim), ExactNorm(row), 1e-5 * ExactNorm(row)) << dim;
  }
}

TEST(RowL2NormTest, FiniteExactlyWhenEveryValueIs) {
  std::vector<float> row(1024, 1e20f);  // finite values whose squares overflow float
  EXPECT_NEAR(RowL2Norm(row.data(), 1024), 32.0 * 1e20, 1e15);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> r(1024, 0.5f);
    r[1023] = bad;  // the last value, then an early one
    EXPECT_FALSE(std::isfinite(RowL2Norm(r.data(), 1024))) << bad;
    r[1023] = 0.5f;
    r[5] = bad;
    EXPECT_FALSE(std::isfinite(RowL2Norm(r.data(), 1024))) << bad;
  }
}

}  // namespace
}  // namespace arginator
