#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"

namespace arginator::trainer {

// One input file and what it contributed.
struct SourceFile {
  std::string class_name;
  std::string path;
  std::string sha256;
  int64_t count = 0;
  bool synthetic = false;  // the file's root attribute `synthetic` is "true"
  EmbeddingSource source;  // layout, where the ids came from, precision, pooled arrays
};

struct NormSummary {
  double mean = 0, std = 0, min = 0, max = 0;
};

// A labelled data set: every protein of every class file, with its class index into ClassNames().
struct Dataset {
  EmbeddingMatrix x;
  std::vector<int> class_index;  // per row
  std::vector<SourceFile> files;
  std::string cache_key;  // sha256 over the inputs' sha256s and the class mapping
  bool from_cache = false;

  int64_t CountOfClass(int c) const;
  bool synthetic() const;
};

struct DatasetOptions {
  std::string dir;
  std::string cache_dir;  // "" = <dir>/.arginator-cache; "-" disables the cache
  std::map<std::string, std::string> class_files;  // class name -> file name or glob
  int dim = kEmbeddingDim;
  bool pool_residues = true;  // data.pool_residues: mean-pool per-residue arrays
  std::string id_map;         // data.id_map: a two-column table renaming ids (common/id_map.h)
  std::string fasta;          // data.fasta: the FASTA the embeddings were made from
};

// Finds each class's files, hashes them, and loads from the processed cache when the hashes match,
// else reads and validates every file (any format and layout common/embedding_files.h reads, ids
// renamed by the id map or FASTA if given) and writes the cache. Validation is all-or-nothing:
// any bad file (missing class, wrong dimension, NaN/Inf, empty, a protein id in two files) is an
// error naming the file(s) and dataset, and nothing is returned.
absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options);

// Task labels per row: binary maps non_betalactamase -> 0, any beta-lactamase class -> 1;
// multiclass is the class index itself.
std::vector<int> TaskLabels(const Dataset& data, const std::string& task);

NormSummary SummarizeNorms(const EmbeddingMatrix& x, const std::vector<size_t>& rows);

// The data report printed before training: files, counts, dimension, finiteness, L2-norm
// statistics.
void PrintDataReport(const Dataset& data, std::ostream& out);

}  // namespace arginator::trainer
