#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "common/embedding_source.h"

namespace arginator {

// Renames protein ids after a read, so results join with RGI and AMRFinderPlus output, which key
// on the FASTA id as written (`WP_000027057.1`), not on an embedder's key for it.
//
// From a table (`--id-map`, `data.id_map`): two columns key and id, tab-separated when the first
// line has a tab, else comma (RFC 4180 quoting); an optional header `key<sep>id`.
// From the FASTA the embeddings were made from (`--fasta`, `data.fasta`): each record answers to
// its id (the header up to the first whitespace, Biopython's record.id), its whole header,
// ProtTrans' key for it (the header with '/' and '.' replaced by '_') and bio_embeddings' key
// (the md5 hex digest of the sequence as written); a key two records share is ambiguous.
//
// Immutable after construction; the Python client (arginator_client/id_map.py) has the same
// rules and messages.
class IdMap {
 public:
  static absl::StatusOr<IdMap> FromTable(const std::string& path);
  static absl::StatusOr<IdMap> FromFasta(const std::string& path);

  // Replaces every id of `matrix` (read from `path`): each must be a key, and no two may map to
  // the same id; otherwise INVALID_ARGUMENT naming them, and `matrix` is unchanged.
  // Appends " -> <map path>" to source->ids.
  absl::Status Apply(const std::string& path, EmbeddingMatrix& matrix,
                     EmbeddingSource* source) const;

  const std::string& path() const { return path_; }

 private:
  struct Entry {
    std::string id;
    std::string other_id;  // non-empty when a second record with another id made the same key
  };
  explicit IdMap(std::string path) : path_(std::move(path)) {}
  void Add(const std::string& key, const std::string& id);

  std::string path_;
  std::unordered_map<std::string, Entry> entries_;
};

// Both options of the clients and the trainer: no map for two empty paths, an error for two set.
absl::StatusOr<std::unique_ptr<IdMap>> LoadIdMap(const std::string& table_path,
                                                 const std::string& fasta_path);

}  // namespace arginator
