#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"
#include "trainer/label_scheme.h"

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

// A labelled data set: every protein of every input file, with its class.
struct Dataset {
  EmbeddingMatrix x;
  std::vector<std::string> class_names;  // the data's classes; class_index points into it
  std::vector<int> class_index;          // per row
  std::vector<std::string> groups;       // per row (the labels table's `group`), or empty
  std::vector<SourceFile> files;
  std::string label_source;           // "class files" or "labels table <path>"
  std::string labels_sha256;          // of the labels table; "" for class files
  std::vector<std::string> warnings;  // ids dropped under data.label_errors=warn
  std::string cache_key;              // sha256 over the inputs' sha256s and the class mapping
  bool from_cache = false;

  int64_t CountOfClass(int c) const;
  bool synthetic() const;
};

struct DatasetOptions {
  std::string dir;        // relative paths below are inside it
  std::string cache_dir;  // "" = <dir>/.arginator-cache; "-" disables the cache
  // One file (or glob) per class: class name -> file. Classes with an empty file are left out,
  // so `data.classes.class_B=` drops a class the defaults name.
  std::map<std::string, std::string> class_files;
  // Or a labels table (trainer/labels_table.h) over the proteins of `embedding_files` (globs).
  std::string labels;
  std::vector<std::string> embedding_files;
  std::vector<std::string> label_set;  // the classes in order; empty = as found, sorted
  bool warn_on_label_errors = false;   // drop unmatched/unlabelled/duplicated ids, counted
  int dim = kEmbeddingDim;
  bool pool_residues = true;  // data.pool_residues: mean-pool per-residue arrays
  std::string id_map;         // data.id_map: a two-column table renaming ids (common/id_map.h)
  std::string fasta;          // data.fasta: the FASTA the embeddings were made from
};

// Finds the input files, hashes them, and loads from the processed cache when the hashes match,
// else reads and validates every file (any format and layout common/embedding_files.h reads, ids
// renamed by the id map or FASTA if given) and writes the cache. Validation is all-or-nothing:
// any bad file (missing class, wrong dimension, NaN/Inf, empty, a protein id in two files) or
// labels-table problem (a labelled id in no file, a protein without a label, an id labelled
// twice, unless warn_on_label_errors) is an error naming the file(s) and ids, and nothing is
// returned.
absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options);

// Checks that every file LoadDataset would read exists (each class's glob matches, the labels
// table, its embedding files, the id map), reading none: `fit --check-config`.
absl::Status CheckDataFiles(const DatasetOptions& options);

// The model's label per row under `scheme` (trainer/label_scheme.h).
std::vector<int> RowLabels(const Dataset& data, const LabelScheme& scheme);

NormSummary SummarizeNorms(const EmbeddingMatrix& x, const std::vector<size_t>& rows);

// The data report printed before training: files, counts, dimension, finiteness, L2-norm
// statistics.
void PrintDataReport(const Dataset& data, std::ostream& out);

}  // namespace arginator::trainer
