// Bytes -> an .h5 file -> ReadEmbeddingFile (our validation: shapes, dims, type class, non-finite
// values) and, when that succeeds, ReadRootAttributesH5 (the trainer reads the `synthetic` marker
// after the rows). After every input no HDF5 object may be left open: our handles close what they
// open on every path, the one leak a reader looping over many files would notice.
//
// libhdf5 parses the file itself and is not hardened against hostile input. Its own leaks are
// suppressed below; its crashes are documented in docs/fuzzing.md, and this target is not part of
// `make fuzz-ci`.

#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "common/embedding_files.h"
#include "common/hdf5_embeddings.h"
#include "tests/fuzz/fuzz_support.h"

// libhdf5 1.10.8 leaks the metadata-cache entry of an object header it fails to decode (malloc
// under H5Dopen2 -> H5O_protect -> H5C_protect). That memory is libhdf5's; the open-object count
// below is what checks our side.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5_serial.so\n"; }

// libhdf5 allocates sizes it reads from the file (terabytes, from a few flipped bits) and handles a
// failed malloc as an error; ASan's default is to abort on such a request instead.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

namespace {
constexpr int kDim = 4;  // the seeds' width: small files, so mutations land in the structure
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const arginator::fuzz::ScratchDir dir;
  const std::string path = dir.Write("input.h5", data, size);
  auto m = arginator::ReadEmbeddingFile(path, kDim);
  if (m.ok()) {
    FUZZ_CHECK(m->dim == kDim && m->rows() >= 1);
    FUZZ_CHECK(m->values.size() == m->rows() * kDim);
    for (float v : m->values) FUZZ_CHECK(std::isfinite(v));
    (void)arginator::ReadRootAttributesH5(path);
  } else {
    FUZZ_CHECK(m.status().message().find(path) != absl::string_view::npos);
  }
  FUZZ_CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
  return 0;
}
