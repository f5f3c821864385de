// Bytes -> ReadEmbeddingFile for the text and NumPy formats (HDF5 has its own target,
// embedding_h5_fuzz, because libhdf5 itself is not robust to hostile files: docs/fuzzing.md).
//
// Input layout: byte 0 picks the format and the expected width, the rest is the file:
//   bits 0-1: 0 .csv, 1 .tsv, 2 .npy without ids, 3 .npy with a "<file>.ids" sidecar, whose
//             length is byte 1 and whose bytes end the input;
//   bits 2-4: the width, 1 + value (1..7), or ProtT5's 1024 when the value is 7.

#include <cmath>
#include <cstdint>
#include <string>

#include "common/embedding_files.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const arginator::fuzz::ScratchDir dir;
  if (size < 1) return 0;
  const int format = data[0] & 3;
  const int width_code = (data[0] >> 2) & 7;
  const int dim = width_code == 7 ? arginator::kEmbeddingDim : 1 + width_code;
  ++data;
  --size;
  std::string path;
  switch (format) {
    case 0:
      path = dir.Write("input.csv", data, size);
      break;
    case 1:
      path = dir.Write("input.tsv", data, size);
      break;
    case 2:
      path = dir.Write("input.npy", data, size);
      break;
    default: {
      if (size < 1) return 0;
      const size_t ids = data[0] < size ? data[0] : size - 1;
      ++data;
      --size;
      dir.Write("sidecar.npy.ids", data + size - ids, ids);
      path = dir.Write("sidecar.npy", data, size - ids);
    }
  }
  auto m = arginator::ReadEmbeddingFile(path, dim);
  // The clients read the same file 3 rows at a time (EmbeddingStream): the same rows, or the same
  // error from the chunk that reaches it.
  arginator::EmbeddingReadOptions options;
  options.dim = dim;
  absl::Status chunked_status;
  arginator::EmbeddingMatrix chunked, chunk;
  chunked.dim = dim;
  auto stream = arginator::EmbeddingStream::Open(path, options);
  if (!stream.ok()) {
    chunked_status = stream.status();
  } else {
    for (;;) {
      absl::StatusOr<bool> more = (*stream)->Next(3, chunk);
      if (!more.ok()) {
        chunked_status = more.status();
        break;
      }
      if (!*more) break;
      chunked.Append(chunk);
    }
  }
  FUZZ_CHECK(chunked_status.ok() == m.ok());
  if (!m.ok()) {
    // Errors name the file.
    FUZZ_CHECK(m.status().message().find(path) != absl::string_view::npos);
    FUZZ_CHECK(chunked_status == m.status());
    return 0;
  }
  FUZZ_CHECK(chunked.ids == m->ids && chunked.values == m->values);
  FUZZ_CHECK(m->dim == dim && m->rows() >= 1);
  FUZZ_CHECK(m->values.size() == m->rows() * static_cast<size_t>(dim));
  for (float v : m->values) FUZZ_CHECK(std::isfinite(v));
  return 0;
}
