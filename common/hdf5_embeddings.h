#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"
#include "common/embedding_stream.h"

namespace arginator {

// Per-protein HDF5 files as the field writes them: one dataset per protein at the root, shape
// [dim] or [1, dim] (any floating-point type: float16 from GPU embedders, float32, float64), or
// [L, dim] per residue, mean-pooled over residues unless options.pool_residues is false. Covers
// the seed project's class files, bio_embeddings' reduced_embeddings_file.h5 (ids from each
// dataset's `original_id` attribute, else from mapping_file.csv: common/embedding_layouts.h),
// ProtTrans' prott5_embedder.py output and UniProt's per-protein.h5; `source` says which.
//
// Reading validates as it goes; every error names the file and, where there is one, the dataset:
// wrong shape or type, non-finite values, a group where a dataset was expected, an empty file.
// libhdf5 (1.10.8) parses the file's structure before any of that, and some hostile files crash
// it or make it allocate gigabytes (docs/fuzzing.md): read files you trust.
// Rows come back in dataset-name order, so reads are deterministic.
absl::StatusOr<EmbeddingMatrix> ReadEmbeddingsH5(const std::string& path,
                                                 const EmbeddingReadOptions& options,
                                                 EmbeddingSource* source);
absl::StatusOr<EmbeddingMatrix> ReadEmbeddingsH5(const std::string& path, int dim = kEmbeddingDim);

// The same files a chunk of datasets at a time (EmbeddingStream, common/embedding_stream.h): the
// dataset names are listed when it opens (cheap beside opening each dataset, which is libhdf5's
// cost per protein), each Next reads the next datasets in name order, and the ids are resolved as
// they come (Hdf5IdResolver, common/embedding_layouts.h). The source's ids and precision are
// complete once the stream has ended.
absl::StatusOr<std::unique_ptr<EmbeddingStream>> OpenEmbeddingsH5Stream(
    const std::string& path, const EmbeddingReadOptions& options);

// Reads only the string attributes on the root group (e.g. `synthetic`, `generator`): each one
// string (fixed or variable length) of at most 64 KiB; other attributes are skipped.
absl::StatusOr<std::map<std::string, std::string>> ReadRootAttributesH5(const std::string& path);

// Writes `matrix` in the same layout, with `attributes` as string attributes on the root group.
// Writes to a temporary name beside `path` and renames, so a reader never sees half a file.
// With `original_ids` (one per row), each dataset also gets the string attribute `original_id`,
// as bio_embeddings writes it (a variable-length UTF-8 string, as h5py stores a str).
absl::Status WriteEmbeddingsH5(const std::string& path, const EmbeddingMatrix& matrix,
                               const std::map<std::string, std::string>& attributes = {},
                               const std::vector<std::string>* original_ids = nullptr);

}  // namespace arginator
