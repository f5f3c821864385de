#include "common/row_projection.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ARGINATOR_X86 1
#endif

namespace arginator {
namespace {

constexpr int kLanes = 16;

// The end of every kernel's dot product, shared so that all of them round alike: the elements
// past the last full 16 (dim % 16 of them) join their lanes, then the lanes are added in a fixed
// tree.
inline __attribute__((always_inline)) float FinishLanes(float* lanes, const float* x,
                                                        const float* b, int dim) {
  const int full = dim - dim % kLanes;
  for (int l = 0; l < dim - full; ++l) lanes[l] = std::fma(x[full + l], b[full + l], lanes[l]);
  float half[8], quarter[4];
  for (int l = 0; l < 8; ++l) half[l] = lanes[l] + lanes[l + 8];
  for (int l = 0; l < 4; ++l) quarter[l] = half[l] + half[l + 4];
  return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

void PortableRows(const float* basis, int cols, int dim, const float* x, int64_t n, float* out) {
  const int full = dim - dim % kLanes;
  for (int64_t r = 0; r < n; ++r) {
    const float* row = x + r * dim;
    for (int c = 0; c < cols; ++c) {
      const float* b = basis + static_cast<int64_t>(c) * dim;
      float lanes[kLanes] = {};
      for (int d = 0; d < full; d += kLanes) {
        for (int l = 0; l < kLanes; ++l) lanes[l] = std::fma(row[d + l], b[d + l], lanes[l]);
      }
      out[r * cols + c] = FinishLanes(lanes, row, b, dim);
    }
  }
}

#ifdef ARGINATOR_X86

// R rows x C basis vectors: the basis is read once for R rows, each row once for C vectors. The
// loops over R and C are unrolled so that the R x C sums stay in registers at -O2 as well (not
// unrolled, -O2 keeps them in memory: 3x slower).
template <int R, int C>
__attribute__((target("avx512f"))) void Avx512Tile(const float* x, const float* b, int dim,
                                                   float* out, int cols) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const int full = dim - dim % kLanes;
  for (int d = 0; d < full; d += kLanes) {
    __m512 xv[R], bv[C];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) xv[r] = _mm512_loadu_ps(x + static_cast<int64_t>(r) * dim + d);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) bv[c] = _mm512_loadu_ps(b + static_cast<int64_t>(c) * dim + d);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(xv[r], bv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float lanes[kLanes];
      _mm512_storeu_ps(lanes, acc[r][c]);
      out[static_cast<int64_t>(r) * cols + c] = FinishLanes(
          lanes, x + static_cast<int64_t>(r) * dim, b + static_cast<int64_t>(c) * dim, dim);
    }
  }
}

// Lanes 0-7 and 8-15 in two registers: the same 16 sums as the other kernels.
template <int R, int C>
__attribute__((target("avx2,fma"))) void Avx2Tile(const float* x, const float* b, int dim,
                                                  float* out, int cols) {
  __m256 lo[R][C], hi[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) lo[r][c] = hi[r][c] = _mm256_setzero_ps();
  }
  const int full = dim - dim % kLanes;
  for (int d = 0; d < full; d += kLanes) {
    __m256 xl[R], xh[R], bl[C], bh[C];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      xl[r] = _mm256_loadu_ps(x + static_cast<int64_t>(r) * dim + d);
      xh[r] = _mm256_loadu_ps(x + static_cast<int64_t>(r) * dim + d + 8);
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      bl[c] = _mm256_loadu_ps(b + static_cast<int64_t>(c) * dim + d);
      bh[c] = _mm256_loadu_ps(b + static_cast<int64_t>(c) * dim + d + 8);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        lo[r][c] = _mm256_fmadd_ps(xl[r], bl[c], lo[r][c]);
        hi[r][c] = _mm256_fmadd_ps(xh[r], bh[c], hi[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float lanes[kLanes];
      _mm256_storeu_ps(lanes, lo[r][c]);
      _mm256_storeu_ps(lanes + 8, hi[r][c]);
      out[static_cast<int64_t>(r) * cols + c] = FinishLanes(
          lanes, x + static_cast<int64_t>(r) * dim, b + static_cast<int64_t>(c) * dim, dim);
    }
  }
}

// Tiles of R rows x C vectors over the whole [n, cols] output; the rows and vectors left over
// go one at a time through the same arithmetic. Blocks of kRowBlock rows (128 KB of 1024 floats,
// in L2), and in each block vectors outer, rows inner: a tile of the basis (C x 4 KB) stays in L1
// while the block's rows pass it, and the whole basis is read once per block. (Rows outer read the
// basis again for every R rows; vectors outer over a whole 1,024-row batch read 4 MB of rows again
// for every tile.)
constexpr int64_t kRowBlock = 32;

template <int R, int C, void (*Tile)(const float*, const float*, int, float*, int),
          void (*RowTile)(const float*, const float*, int, float*, int),
          void (*ColTile)(const float*, const float*, int, float*, int),
          void (*One)(const float*, const float*, int, float*, int)>
void TiledRows(const float* basis, int cols, int dim, const float* x, int64_t n, float* out) {
  for (int64_t block = 0; block < n; block += kRowBlock) {
    const int64_t end = std::min(n, block + kRowBlock);
    int c = 0;
    for (; c + C <= cols; c += C) {
      const float* b = basis + static_cast<int64_t>(c) * dim;
      int64_t r = block;
      for (; r + R <= end; r += R) Tile(x + r * dim, b, dim, out + r * cols + c, cols);
      for (; r < end; ++r) ColTile(x + r * dim, b, dim, out + r * cols + c, cols);
    }
    for (; c < cols; ++c) {
      const float* b = basis + static_cast<int64_t>(c) * dim;
      int64_t r = block;
      for (; r + R <= end; r += R) RowTile(x + r * dim, b, dim, out + r * cols + c, cols);
      for (; r < end; ++r) One(x + r * dim, b, dim, out + r * cols + c, cols);
    }
  }
}

__attribute__((target("avx512f"))) void Avx512Rows(const float* basis, int cols, int dim,
                                                   const float* x, int64_t n, float* out) {
  TiledRows<4, 4, Avx512Tile<4, 4>, Avx512Tile<4, 1>, Avx512Tile<1, 4>, Avx512Tile<1, 1>>(
      basis, cols, dim, x, n, out);
}

__attribute__((target("avx2,fma"))) void Avx2Rows(const float* basis, int cols, int dim,
                                                  const float* x, int64_t n, float* out) {
  TiledRows<2, 2, Avx2Tile<2, 2>, Avx2Tile<2, 1>, Avx2Tile<1, 2>, Avx2Tile<1, 1>>(basis, cols, dim,
                                                                                  x, n, out);
}

#endif  // ARGINATOR_X86

ProjectionKernel Detect() {
#ifdef ARGINATOR_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return ProjectionKernel::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return ProjectionKernel::kAvx2;
  }
#endif
  return ProjectionKernel::kPortable;
}

ProjectionKernel Best() {
  static const ProjectionKernel best = Detect();
  return best;
}

}  // namespace

bool ProjectionKernelAvailable(ProjectionKernel kernel) {
  switch (kernel) {
    case ProjectionKernel::kAuto:
    case ProjectionKernel::kPortable:
      return true;
    case ProjectionKernel::kAvx2:
      return Best() == ProjectionKernel::kAvx2 || Best() == ProjectionKernel::kAvx512;
    case ProjectionKernel::kAvx512:
      return Best() == ProjectionKernel::kAvx512;
  }
  return false;
}

void ProjectRowsWith(ProjectionKernel kernel, const float* basis, int cols, int dim, const float* x,
                     int64_t n, float* out) {
  if (kernel == ProjectionKernel::kAuto) kernel = Best();
  switch (kernel) {
#ifdef ARGINATOR_X86
    case ProjectionKernel::kAvx512:
      return Avx512Rows(basis, cols, dim, x, n, out);
    case ProjectionKernel::kAvx2:
      return Avx2Rows(basis, cols, dim, x, n, out);
#endif
    default:
      return PortableRows(basis, cols, dim, x, n, out);
  }
}

void ProjectRows(const float* basis, int cols, int dim, const float* x, int64_t n, float* out) {
  ProjectRowsWith(ProjectionKernel::kAuto, basis, cols, dim, x, n, out);
}

const char* ProjectionKernelName() {
  switch (Best()) {
    case ProjectionKernel::kAvx512:
      return "avx512";
    case ProjectionKernel::kAvx2:
      return "avx2";
    default:
      return "portable";
  }
}

}  // namespace arginator
