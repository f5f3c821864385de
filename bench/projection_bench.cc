// arginator-bench-projection: the out-of-distribution density's projections (k + 1 dot products
// of `dim` floats per row) by the server's batch-invariant kernel (common/row_projection.h)
// against one BLAS GEMV per row (what the server ran before), us per row by batch size, best of
// 5. Before every call each loop writes 2 MB (what the forward's weights do to the caches in the
// server), so the basis is not left warm; that time, measured alone, is subtracted.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "common/blas_threads.h"
#include "common/row_projection.h"

int main() {
  constexpr int kDim = 1024, kCols = 65, kMaxRows = 1024;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> basis(kCols * kDim), x(kMaxRows * kDim);
  std::vector<float> out(kMaxRows * kCols), evict(512 * 1024);
  for (auto* v : {&basis, &x}) {
    for (float& f : *v) f = normal(rng);
  }
  const arginator::BlasInfo blas = arginator::SetBlasThreads(1);
  std::printf("projection kernel %s, %d x %d basis%s, 1 thread\n",
              arginator::ProjectionKernelName(), kCols, kDim, blas.LogSuffix().c_str());
  std::printf("%6s %14s %14s\n", "rows", "kernel us/row", "GEMV us/row");
  for (int n : {1, 2, 4, 8, 16, 32, 64, 256, 1024}) {
    const int loops = std::max(50, 4000 / n);
    double best[3] = {1e9, 1e9, 1e9};
    for (int repeat = 0; repeat < 5; ++repeat) {
      for (int mode = 0; mode < 3; ++mode) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < loops; ++i) {
          std::fill(evict.begin(), evict.end(), static_cast<float>(i));
          if (mode == 0) arginator::ProjectRows(basis.data(), kCols, kDim, x.data(), n, out.data());
          for (int r = 0; mode == 1 && r < n; ++r) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, kCols, kDim, 1, basis.data(), kDim,
                        x.data() + r * kDim, 1, 0, out.data() + r * kCols, 1);
          }
        }
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count() /
            loops / n;
        best[mode] = std::min(best[mode], us);
      }
    }
    // The projections' own cost: the loop's time less the eviction-only loop's.
    std::printf("%6d %14.2f %14.2f\n", n, best[0] - best[2], best[1] - best[2]);
  }
  return 0;
}
