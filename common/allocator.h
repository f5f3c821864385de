#pragma once

#include <cstddef>
#include <vector>

namespace arginator {

// Keeps tensor-sized buffers (hundreds of KB to a few MB: gradients, activations of large batches)
// in the malloc heap instead of fresh mmap/munmap pairs. With glibc's default threshold (128 KB,
// raised only lazily) every such allocation page-faults its memory in again: measured here, the
// first training epoch of the 1024-256-128 FFNN ran at 4.5k samples/s instead of 22k.
// Call once at the start of main(), before threads start.
void TuneAllocatorForTensors();

// Sizes `values` to `count` floats, asking the kernel for transparent huge pages first when the
// buffer is large (as NumPy does for arrays of 4 MB or more): a 160 MB embeddings file otherwise
// spends most of its read faulting in 40,000 zero-filled 4 KB pages (docs/benchmarks.md).
void ResizeLargeBuffer(std::vector<float>& values, size_t count);

}  // namespace arginator
