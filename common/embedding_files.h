#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"

namespace arginator {

// Reads embeddings from any of the formats users have, by extension:
//  - .h5 / .hdf5: one dataset per protein, as the seed project, bio_embeddings, ProtTrans and
//    UniProt write them (common/hdf5_embeddings.h: ids, per-residue pooling, layouts);
//  - .csv / .tsv: one protein per line, id then `dim` numbers, RFC 4180 quoting (an id may hold
//    the separator); a first line is a header when it starts with "id", when none of its values
//    is a number, or when its values are the column numbers (pandas' to_csv());
//  - .npy: little-endian float16, float32 or float64 [N, dim], row-major; ids from "<file>.ids"
//    (one per line) when that file exists, else the row index.
// Errors name the file and the row (1-based line for CSV) or dataset: wrong width, a value that is
// not a number, NaN/Inf, a malformed NPY header, an id count that does not match the rows.
// `source` (may be null) receives what was found; it is written only on success.
absl::StatusOr<EmbeddingMatrix> ReadEmbeddingFile(const std::string& path,
                                                  const EmbeddingReadOptions& options,
                                                  EmbeddingSource* source);
absl::StatusOr<EmbeddingMatrix> ReadEmbeddingFile(const std::string& path, int dim = kEmbeddingDim);

// The same files read a chunk of rows at a time, so that one larger than memory can be classified:
// NPY and CSV/TSV are read as the chunks are asked for (memory: one chunk; the ids file's lines are
// counted when the stream opens); HDF5 files, and any file whose ids go through an id map (whose
// checks need every id), are read whole when the stream opens and handed out in chunks. Rows,
// ids, checks and error messages are ReadEmbeddingFile's; an error in a row is reported by the
// Next that reaches it.
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
  // What was found (layout, ids, precision, pooled), known once the stream is open.
  const EmbeddingSource& source() const { return source_; }

 protected:
  EmbeddingSource source_;
};

// One line for a person: "read 3 embeddings from F: <layout>; ids from <ids>[; N per-residue
// arrays mean-pooled]" (the clients print it; the Python client prints the same words).
std::string DescribeRead(const std::string& path, size_t rows, const EmbeddingSource& source);

// Writers for tests, samples and exchange (CSV with a header; NPY float32 plus the .ids file).
absl::Status WriteEmbeddingsCsv(const std::string& path, const EmbeddingMatrix& matrix);
absl::Status WriteEmbeddingsNpy(const std::string& path, const EmbeddingMatrix& matrix);

}  // namespace arginator
