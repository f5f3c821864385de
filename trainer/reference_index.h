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
// How the index is built. Up to `exact_limit` references it is exact (FAISS IndexFlatIP: every
// reference compared). Above it, an inverted file (IndexIVFFlat: `4 sqrt(n)` k-means cells, each
// query scans the `nprobe` nearest cells), approximate but a fraction of the work per query:
// against 60,000 references one query took ~50 ms exact here and ~3-5 ms by IVF, and the index
// builds in seconds (an HNSW graph, the first choice, took 682 s for 60,000 with this FAISS
// build, whose distance loops are scalar; docs/benchmarks.md). `nprobe` is the smallest power of
// two whose recall@1 against exact search, measured on the probe rows (the validation split,
// proteins that are not references), reaches `target_recall`; the card records the recall.
struct ReferenceIndexOptions {
  size_t exact_limit = 16384;
  double target_recall = 0.98;
  size_t max_probe_rows = 2000;  // validation rows the recall is measured on
};

// Writes the reference index of `rows` of `x` (L2-normalised, so inner product = cosine) and its
// table (id, label of each row, in index order) into `dir`; returns model.json's "evidence"
// section: the files and their sha256, the index kind and its parameters, the recall measured on
// `probe_rows` (approximate indexes), count, bytes and build seconds.
absl::StatusOr<nlohmann::json> WriteReferenceIndex(const std::string& dir, const EmbeddingMatrix& x,
                                                   const std::vector<size_t>& rows,
                                                   const std::vector<std::string>& row_labels,
                                                   const std::vector<size_t>& probe_rows,
                                                   const ReferenceIndexOptions& options = {});

}  // namespace arginator::trainer
