#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "nlohmann/json.hpp"

namespace arginator::trainer {

// The files beside model.pt holding a version's reference index (model.json "evidence").
inline constexpr char kReferenceIndexFile[] = "references.faiss";
inline constexpr char kReferenceTableFile[] = "references.tsv";
// Up to this many references the index is exact (FAISS IndexFlatIP: every reference compared);
// above it, an HNSW graph (IndexHNSWFlat, 32 links per node, efSearch 128), approximate but
// sub-linear. An exact search scans every reference: ~40 ms for one query against 60,000 here
// (DESIGN.md's platform facts), ~10 ms at this limit, so the seed data's scale goes to HNSW.
inline constexpr size_t kExactReferenceLimit = 16384;

// Writes the reference index of `rows` of `x` (L2-normalised, so inner product = cosine) and its
// table (id, label of each row, in index order) into `dir`; returns model.json's "evidence"
// section: the files and their sha256, the index kind, count, bytes and build seconds.
absl::StatusOr<nlohmann::json> WriteReferenceIndex(const std::string& dir, const EmbeddingMatrix& x,
                                                   const std::vector<size_t>& rows,
                                                   const std::vector<std::string>& row_labels);

}  // namespace arginator::trainer
