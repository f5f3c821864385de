#pragma once

#include <cstdint>

namespace arginator {

// out[r * cols + c] = x_r . basis_c for n rows x_r of `dim` floats and `cols` basis vectors
// basis_c (row-major [cols, dim]), computed so that a row's projections are the same bits
// whatever other rows come with it (its batch-mates, its position) and on every CPU: each dot
// product is 16 running sums (lane l takes elements l, l + 16, ...), each element added by one
// fused multiply-add (rounded once: the AVX-512 and AVX2 kernels' FMA instructions and the
// portable kernel's std::fma give the same bits), the lanes added in one fixed tree (this file is
// built with -ffp-contract=off, so the compiler fuses nothing else). Only the order in which the
// products are computed depends on the CPU (AVX-512: 4 rows x 4 basis vectors at a time, reading
// the basis once per 32 rows; AVX2 with FMA: 2 x 2; otherwise one at a time), never their
// rounding. BLAS's GEMM rounds differently for different row counts and CPUs, and its GEMV reads
// the whole basis again for every row.
void ProjectRows(const float* basis, int cols, int dim, const float* x, int64_t n, float* out);

// The kernels, for the tests that compare them bit for bit; kAuto is the one ProjectRows uses.
enum class ProjectionKernel { kAuto, kPortable, kAvx2, kAvx512 };
// False for a kernel this CPU (or build) cannot run.
bool ProjectionKernelAvailable(ProjectionKernel kernel);
void ProjectRowsWith(ProjectionKernel kernel, const float* basis, int cols, int dim, const float* x,
                     int64_t n, float* out);
const char* ProjectionKernelName();  // what kAuto runs here: "avx512", "avx2" or "portable"

}  // namespace arginator
