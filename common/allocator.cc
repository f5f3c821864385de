#include "common/allocator.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

namespace arginator {

void TuneAllocatorForTensors() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);   // allocations below 32 MB come from the heap
  mallopt(M_TRIM_THRESHOLD, 256 << 20);  // and freed memory is kept for reuse up to 256 MB
}

void ResizeLargeBuffer(std::vector<float>& values, size_t count) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  if (count * sizeof(float) >= (size_t{4} << 20) && values.capacity() < count) {
    values.reserve(count);  // fresh, untouched pages: nothing is faulted in yet
    const auto begin = reinterpret_cast<uintptr_t>(values.data());
    const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t end = (begin + count * sizeof(float)) & ~(kHugePage - 1);
    // Advice only: where the kernel has no huge pages (or THP is off) this changes nothing.
    if (end > first) madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
  }
  values.resize(count);
}

}  // namespace arginator
