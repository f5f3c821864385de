#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace arginator {

// A model's version labels persist in <repository>/<model>/labels.json, a JSON object of label ->
// version ({"stable": 3, "canary": 4}), as TF Serving keeps them in its model config: a rollback
// by label survives a restart. ModelAdmin.SetVersionLabel writes it (models.persist_labels); an
// operator may write it by hand, and the watcher applies it when it changes.
inline constexpr size_t kMaxLabelsFileBytes = 64 << 10;
inline constexpr size_t kMaxLabelBytes = 256;  // as any name a client may send
// Labels per model: with labels of kMaxLabelBytes, the file stays well within its size limit.
inline constexpr size_t kMaxLabelsPerModel = 64;

// INVALID_ARGUMENT naming `source` unless `text` is such an object: at most kMaxLabelsPerModel
// labels, each non-empty and at most `max_label_bytes`, versions positive integers.
absl::StatusOr<std::map<std::string, int64_t>> ParseVersionLabels(const std::string& text,
                                                                  const std::string& source,
                                                                  size_t max_label_bytes);

// Reads and parses the labels file at `path`, which must be a regular file of at most
// kMaxLabelsFileBytes (CheckRegularFile).
absl::StatusOr<std::map<std::string, int64_t>> ReadVersionLabels(const std::string& path,
                                                                 size_t max_label_bytes);

// The text of a labels file holding `labels` (what WriteVersionLabels writes).
std::string SerializeVersionLabels(const std::map<std::string, int64_t>& labels);

// Writes `labels` to `path` atomically (a hidden temporary file in the same directory, fsynced,
// then renamed over it), so a reader sees the old or the new file, never a part.
absl::Status WriteVersionLabels(const std::string& path,
                                const std::map<std::string, int64_t>& labels);

}  // namespace arginator
