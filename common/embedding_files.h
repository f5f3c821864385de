#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"
#include "common/embedding_stream.h"

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

// The same files read a chunk of rows at a time: EmbeddingStream::Open (common/embedding_stream.h).

// One line for a person: "read 3 embeddings from F: <layout>; ids from <ids>[; N per-residue
// arrays mean-pooled]" (the clients print it; the Python client prints the same words).
std::string DescribeRead(const std::string& path, size_t rows, const EmbeddingSource& source);

// Writers for tests, samples and exchange (CSV with a header; NPY float32 plus the .ids file).
absl::Status WriteEmbeddingsCsv(const std::string& path, const EmbeddingMatrix& matrix);
absl::Status WriteEmbeddingsNpy(const std::string& path, const EmbeddingMatrix& matrix);

}  // namespace arginator
