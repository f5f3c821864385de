#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"

namespace arginator::trainer {

// One input file and what it contributed.
struct SourceFile {
  std::string class_name;
  std::string path;
  std::string sha256;
  int64_t count = 0;
  bool synthetic = false;  // the file's root attribute `synthetic` is "true"
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
};

// Finds each class's files, hashes them, and loads from the processed cache when the hashes match,
// else parses and validates every HDF5 file and writes the cache. Validation is all-or-nothing:
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
