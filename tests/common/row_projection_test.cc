#include "common/row_projection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace arginator {
namespace {

struct Case {
  int cols, dim;
};

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  // Magnitudes over several decades, so that a different order of additions would round
  // differently.
  for (float& x : v) x = normal(rng) * std::pow(10.0f, static_cast<float>(rng() % 5) - 2.0f);
  return v;
}

TEST(RowProjectionTest, ARowGetsTheSameBitsAloneAndAtEveryPlaceInAnyBatch) {
  std::mt19937 rng(3);
  // 1024 (ProtT5), a width with a tail past the last 16 floats, one narrower than 16 lanes.
  for (const Case c : {Case{65, 1024}, Case{3, 1000}, Case{5, 7}}) {
    const std::vector<float> basis = Random(static_cast<size_t>(c.cols) * c.dim, rng);
    constexpr int kRows = 37;
    const std::vector<float> x = Random(static_cast<size_t>(kRows) * c.dim, rng);
    std::vector<float> alone(static_cast<size_t>(kRows) * c.cols);
    for (int r = 0; r < kRows; ++r) {
      ProjectRows(basis.data(), c.cols, c.dim, x.data() + static_cast<size_t>(r) * c.dim, 1,
                  alone.data() + static_cast<size_t>(r) * c.cols);
    }
    // Batches of every size from 2 to 9 starting at every row, and all 37 rows at once.
    for (int n : {2, 3, 4, 5, 6, 7, 8, 9, kRows}) {
      for (int first = 0; first + n <= kRows; ++first) {
        std::vector<float> together(static_cast<size_t>(n) * c.cols);
        ProjectRows(basis.data(), c.cols, c.dim, x.data() + static_cast<size_t>(first) * c.dim, n,
                    together.data());
        ASSERT_EQ(std::memcmp(together.data(), alone.data() + static_cast<size_t>(first) * c.cols,
                              together.size() * sizeof(float)),
                  0)
            << "rows " << first << ".." << first + n - 1 << " of dim " << c.dim;
      }
    }
  }
}

TEST(RowProjectionTest, EveryKernelThisCpuRunsGivesThePortableKernelsBits) {
  std::mt19937 rng(5);
  for (const Case c : {Case{65, 1024}, Case{6, 1000}, Case{5, 7}}) {
    const std::vector<float> basis = Random(static_cast<size_t>(c.cols) * c.dim, rng);
    constexpr int kRows = 11;
    const std::vector<float> x = Random(static_cast<size_t>(kRows) * c.dim, rng);
    std::vector<float> portable(static_cast<size_t>(kRows) * c.cols);
    ProjectRowsWith(ProjectionKernel::kPortable, basis.data(), c.cols, c.dim, x.data(), kRows,
                    portable.data());
    for (const ProjectionKernel kernel : {ProjectionKernel::kAvx2, ProjectionKernel::kAvx512}) {
      if (!ProjectionKernelAvailable(kernel)) continue;
      std::vector<float> out(portable.size());
      ProjectRowsWith(kernel, basis.data(), c.cols, c.dim, x.data(), kRows, out.data());
      EXPECT_EQ(std::memcmp(out.data(), portable.data(), out.size() * sizeof(float)), 0)
          << "kernel " << static_cast<int>(kernel) << ", dim " << c.dim;
    }
    // And each projection is the dot product, within float rounding.
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < c.cols; ++k) {
        double exact = 0, scale = 0;
        for (int d = 0; d < c.dim; ++d) {
          const double term = static_cast<double>(x[static_cast<size_t>(r) * c.dim + d]) *
                              basis[static_cast<size_t>(k) * c.dim + d];
          exact += term;
          scale += std::fabs(term);
        }
        EXPECT_NEAR(portable[static_cast<size_t>(r) * c.cols + k], exact, 1e-5 * scale + 1e-30);
      }
    }
  }
  const std::string name = ProjectionKernelName();
  EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "portable") << name;
}

}  // namespace
}  // namespace arginator
