#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"

namespace arginator {

// Reads embeddings for classification from any of the formats users have:
//  - .h5 / .hdf5: the seed project's layout (one dataset per protein, named by its id);
//  - .csv / .tsv: one protein per line, id then `dim` numbers; a first line that starts with "id"
//    is a header;
//  - .npy: little-endian float16, float32 or float64 [N, dim], row-major; ids from "<file>.ids"
//  (one per line) when that
//    file exists, else the row index.
// Errors name the file and the row (1-based line for CSV) or dataset: wrong width, a value that is
// not a number, NaN/Inf, a malformed NPY header, an id count that does not match the rows.
absl::StatusOr<EmbeddingMatrix> ReadEmbeddingFile(const std::string& path, int dim = kEmbeddingDim);

// Writers for tests, samples and exchange (CSV with a header; NPY float32 plus the .ids file).
absl::Status WriteEmbeddingsCsv(const std::string& path, const EmbeddingMatrix& matrix);
absl::Status WriteEmbeddingsNpy(const std::string& path, const EmbeddingMatrix& matrix);

}  // namespace arginator
