#pragma once

#include <cstdint>
#include <string>

#include "common/embedding_matrix.h"

namespace arginator {

class IdMap;

// How to read an embedding file (every reader in common/ takes these).
struct EmbeddingReadOptions {
  int dim = kEmbeddingDim;
  // A per-residue array [L, dim] (L > 1) is mean-pooled over its residues, the pooling ProtT5's
  // per-protein embeddings use; false refuses it, for a lab that wants to pool its own way.
  bool pool_residues = true;
  // Renames the ids after the read (common/id_map.h); not owned, may be null.
  const IdMap* id_map = nullptr;
};

// What a read found, for the trainer's data report and the clients' `inspect` and summary lines.
// The strings are a contract shared with the Python client (client/python/arginator_client).
struct EmbeddingSource {
  std::string layout;     // e.g. "bio_embeddings reduced embeddings", "CSV", "NPY"
  std::string ids;        // where the ids came from, e.g. "original_id attributes"
  std::string precision;  // widest float stored: "float16", "float32", "float64"; "text" for CSV
  int64_t pooled = 0;     // per-residue arrays mean-pooled into one row each
};

}  // namespace arginator
