#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"

namespace arginator {

// An embedding file (common/embedding_files.h's formats) read a chunk of rows at a time, so that
// one larger than memory can be classified and reading overlaps classifying: NPY and CSV/TSV are
// read as the chunks are asked for (memory: one chunk; an NPY ids file's lines are counted when
// the stream opens); a per-protein HDF5 file's dataset names are listed when it opens and its
// datasets read a chunk at a time (common/hdf5_embeddings.h); a file whose ids go through an id
// map (whose checks need every id) is read whole when the stream opens. Rows, ids, checks and
// error messages are ReadEmbeddingFile's; an error in a row is reported by the Next that reaches
// it.
class EmbeddingStream {
 public:
  virtual ~EmbeddingStream() = default;
  static absl::StatusOr<std::unique_ptr<EmbeddingStream>> Open(const std::string& path,
                                                               const EmbeddingReadOptions& options);

  // Replaces `chunk` with the next rows, at most `max_rows` (> 0); false, with `chunk` empty, at
  // the end of the file.
  virtual absl::StatusOr<bool> Next(size_t max_rows, EmbeddingMatrix& chunk) = 0;
  // The file's rows when known before reading them (NPY, HDF5, a file read whole), else -1 (CSV).
  virtual int64_t total_rows() const = 0;
  // What was found (layout, ids, precision, pooled); complete once Next has returned false (an
  // HDF5 file's ids and precision are known only once every dataset is read).
  const EmbeddingSource& source() const { return source_; }

 protected:
  EmbeddingSource source_;
};

}  // namespace arginator
