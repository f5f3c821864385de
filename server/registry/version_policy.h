#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace arginator::server {

// Which versions of a model to serve, as TF Serving's model_version_policy.
struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  int latest = 1;                 // kLatest: the N highest versions on disk
  std::vector<int64_t> versions;  // kSpecific: exactly these

  // "latest" | "all" | "specific"; errors name the bad value.
  static absl::StatusOr<VersionPolicy> Parse(const std::string& kind, int latest,
                                             std::vector<int64_t> versions);
  // The one-line form used per model in the config: "latest", "latest 2", "all",
  // "specific 3 5".
  static absl::StatusOr<VersionPolicy> ParseSpec(const std::string& spec);
};

enum class VersionState { kLoading, kReady, kUnloading, kFailed, kUnloaded };
const char* VersionStateName(VersionState state);

// The versions the policy wants among those on disk.
std::set<int64_t> DesiredVersions(const VersionPolicy& policy, const std::set<int64_t>& on_disk);

struct TransitionPlan {
  std::vector<int64_t> load;  // highest first
  std::vector<int64_t> unload;
};

// Availability-preserving transitions (TF Serving's availability_preserving_policy): load every
// desired version not yet present (failed versions are not retried); unload ready versions that are
// no longer desired only once some desired version is ready, so a model never goes from serving
// to not serving, and the last ready version is never unloaded.
TransitionPlan PlanTransitions(const std::set<int64_t>& desired,
                               const std::map<int64_t, VersionState>& current);

}  // namespace arginator::server
