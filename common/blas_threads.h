#pragma once

#include <string>

namespace arginator {

// The BLAS library behind LibTorch's CPU matrix products, as found in this process.
struct BlasInfo {
  std::string name;  // "OpenBLAS", or "" when the BLAS is not one we can size (MKL, reference)
  int threads = 0;   // its thread count after the call; 0 when unknown
  std::string core;  // the kernel set OpenBLAS chose for this CPU (openblas_get_corename), if known

  // ", OpenBLAS 1 (SkylakeX kernels)" for a startup line, or "" when the BLAS is unknown.
  std::string LogSuffix() const;
};

// Sizes the BLAS thread pool to `threads` (0 leaves it alone). torch::set_num_threads sizes
// LibTorch's own pool but not OpenBLAS's, which Debian's LibTorch calls into: left alone, OpenBLAS
// starts one thread per core and spins between calls, so "1 intra-op thread" really used both
// cores of this machine (measured: 1.6 cores busy during a batch-1024 forward) and competed with
// gRPC's threads. MKL (CUDA LibTorch builds) follows torch::set_num_threads itself.
// Looked up at run time, so a process linked to another BLAS runs unchanged.
BlasInfo SetBlasThreads(int threads);

}  // namespace arginator
