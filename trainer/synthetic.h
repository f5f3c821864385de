#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"

namespace arginator::trainer {

// Synthetic ProtT5-like embeddings in the seed project's layout. Not biology: a stand-in with the
// properties that make the real task what it is (see README "Data"):
//  - realistic imbalance: at scale 1, 60,000 non-beta-lactamases against 1,000-3,000 per class;
//  - sub-families inside each class, of Zipf-like sizes;
//  - overlap: class D shares much of class A's direction (both serine enzymes), and some
//    non-beta-lactamase families (PBP-like decoys) sit close to beta-lactamase sub-families;
//  - a large component shared by all proteins and near-constant L2 norms, as mean-pooled ProtT5.
struct SyntheticOptions {
  double scale = 1.0;  // multiplies every class count (minimum 20 per class)
  uint64_t seed = 42;  // the "world": base vector, class and sub-family centroids
  int dim = kEmbeddingDim;
  // Draws the proteins with this seed instead (0 = `seed`): new proteins from the same world,
  // e.g. a held-out sample for a model trained on `seed`'s data.
  uint64_t sample_seed = 0;
};

// Per-class protein counts at scale 1 (class name -> count).
const std::map<std::string, int>& SyntheticCountsAtScaleOne();

// The generated proteins of every class, keyed by class name (ClassNames()).
std::map<std::string, EmbeddingMatrix> GenerateSynthetic(const SyntheticOptions& options);

// Writes one HDF5 file per class into `dir` with the default file names, each marked synthetic in
// its root attributes. Returns class name -> path.
absl::StatusOr<std::map<std::string, std::string>> WriteSyntheticDataset(
    const std::string& dir, const SyntheticOptions& options);

// The same proteins as a bio_embeddings pipeline's output directory, for trying the own-data path
// (docs/training.md): <dir>/proteins.fasta (a made-up sequence per protein, its FASTA id the
// synthetic id with an accession version ".1"), <dir>/mapping_file.csv, the stage file
// <dir>/prottrans_t5_xl_u50/reduced_embeddings_file.h5 (md5-of-sequence keys, `original_id`
// attributes, marked synthetic) and <dir>/labels.tsv (id, label, group = the sub-family).
// Returns the paths by role ("fasta", "mapping", "embeddings", "labels").
absl::StatusOr<std::map<std::string, std::string>> WriteSyntheticBioEmbeddings(
    const std::string& dir, const SyntheticOptions& options);

}  // namespace arginator::trainer
