#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace arginator {

// How a model's default traffic is released, beside its labels in
// <repository>/<model>/release.json, so that a restart, an operator's edit and every replica
// reading the same repository agree. The versions themselves are named by labels (labels.json):
// `stable` (or the default label) answers requests that name no version or label, `canary` takes
// canary_percent of them, `shadow` runs a sample of them again off the latency path, and
// `previous` keeps the version a promote replaced loaded for an instant rollback.
inline constexpr char kReleaseFile[] = "release.json";
inline constexpr size_t kMaxReleaseFileBytes = 16 << 10;
inline constexpr char kStableLabel[] = "stable";
inline constexpr char kCanaryLabel[] = "canary";
inline constexpr char kShadowLabel[] = "shadow";
inline constexpr char kPreviousLabel[] = "previous";

struct ReleaseSettings {
  // The label whose version answers requests without a version or label; empty: the server's
  // models.default_labels entry for the model, else `stable`. When the model has no such label,
  // the newest ready version answers (a model without labels behaves as before labels existed).
  std::string default_label;
  double canary_percent = 0;    // share of default requests the `canary` version answers, [0, 100]
  double shadow_percent = 100;  // share of default requests also run on `shadow`, [0, 100]
  // When the `previous` label lapses (the version a promote replaced may then unload);
  // InfiniteFuture: kept until the next promote.
  absl::Time previous_until = absl::InfiniteFuture();

  bool operator==(const ReleaseSettings& o) const {
    return default_label == o.default_label && canary_percent == o.canary_percent &&
           shadow_percent == o.shadow_percent && previous_until == o.previous_until;
  }
  bool operator!=(const ReleaseSettings& o) const { return !(*this == o); }
};

// INVALID_ARGUMENT naming `source` and the field unless `text` is a JSON object of the fields
// above (each optional; unknown fields refused, so a typo is not silently ignored):
// {"default_label": "stable", "canary_percent": 20, "shadow_percent": 100,
//  "previous_until": "2026-12-04T10:00:00Z"}.
absl::StatusOr<ReleaseSettings> ParseReleaseSettings(const std::string& text,
                                                     const std::string& source,
                                                     size_t max_label_bytes);
// Reads `path` (a regular file of at most kMaxReleaseFileBytes) and parses it.
absl::StatusOr<ReleaseSettings> ReadReleaseSettings(const std::string& path,
                                                    size_t max_label_bytes);
std::string SerializeReleaseSettings(const ReleaseSettings& settings);
// Replaces `path` atomically (ReplaceFileAtomically).
absl::Status WriteReleaseSettings(const std::string& path, const ReleaseSettings& settings);

}  // namespace arginator
