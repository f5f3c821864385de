#include "common/allocator.h"

#include <malloc.h>

namespace arginator {

void TuneAllocatorForTensors() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);   // allocations below 32 MB come from the heap
  mallopt(M_TRIM_THRESHOLD, 256 << 20);  // and freed memory is kept for reuse up to 256 MB
}

}  // namespace arginator
