#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "trainer/split.h"

namespace arginator::trainer {

// Which proteins a model was trained, validated and tested on: split.tsv beside model.json (its
// sha256 in the card), one row per protein: id, part (train | val | test) and the sha256 of its
// embedding's float32 bytes (16 hex digits), so `eval` can tell when evaluated data overlaps the
// training data by id or by an identical embedding under another id.
inline constexpr char kSplitRecordFile[] = "split.tsv";

absl::Status WriteSplitRecord(const std::string& path, const EmbeddingMatrix& x,
                              const SplitIndices& split);

// The digest stored for one embedding row.
std::string EmbeddingDigest(const float* row, int dim);

struct SplitRecord {
  std::map<std::string, std::string> part_of_id;      // id -> part
  std::map<std::string, std::string> part_of_digest;  // embedding digest -> part
};

absl::StatusOr<SplitRecord> ReadSplitRecord(const std::string& path);

}  // namespace arginator::trainer
