#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/matrix_view.h"

namespace arginator::server {

// Finds the nearest references of unit-length rows by inner product (= cosine similarity).
// FaissReferenceSearch (faiss_reference_search.h) in production; fakes in tests. Thread-safe.
class ReferenceSearch {
 public:
  virtual ~ReferenceSearch() = default;
  // For each of `rows` (L2-normalised), its `k` nearest references, most similar first:
  // `indices` (rows * k, into the reference table; -1 when there are fewer than k) and
  // `cosines` (rows * k).
  virtual void Search(RowsView rows, int k, int64_t* indices, float* cosines) const = 0;
};

// A version's reference index (model.json "evidence"): the table naming each reference and the
// search over their embeddings. Immutable once loaded.
struct ReferenceSet {
  std::vector<std::string> ids;
  std::vector<int> labels;  // index into the card's labels
  std::unique_ptr<ReferenceSearch> search;
};

// Opens a reference index file (already checked against the card's sha256) of `count` rows of
// `dim`: FAISS's reader in production.
using ReferenceSearchFactory = std::function<absl::StatusOr<std::unique_ptr<ReferenceSearch>>(
    const std::string& path, int dim, int64_t count)>;

}  // namespace arginator::server
