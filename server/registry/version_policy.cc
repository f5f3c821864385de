#include "server/registry/version_policy.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace arginator::server {

absl::StatusOr<VersionPolicy> VersionPolicy::Parse(const std::string& kind, int latest,
                                                   std::vector<int64_t> versions) {
  VersionPolicy p;
  if (kind == "latest") {
    if (latest < 1) {
      return absl::InvalidArgumentError(absl::StrCat("policy latest needs N >= 1, got ", latest));
    }
    p.kind = Kind::kLatest;
    p.latest = latest;
  } else if (kind == "all") {
    p.kind = Kind::kAll;
  } else if (kind == "specific") {
    if (versions.empty()) {
      return absl::InvalidArgumentError("policy 'specific' needs a list of versions");
    }
    p.kind = Kind::kSpecific;
    p.versions = std::move(versions);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("version policy must be latest, all or specific, got '", kind, "'"));
  }
  return p;
}

absl::StatusOr<VersionPolicy> VersionPolicy::ParseSpec(const std::string& spec) {
  std::vector<std::string> words = absl::StrSplit(spec, ' ', absl::SkipEmpty());
  if (words.empty()) return absl::InvalidArgumentError("empty version policy");
  std::vector<int64_t> numbers;
  for (size_t i = 1; i < words.size(); ++i) {
    int64_t n;
    if (!absl::SimpleAtoi(words[i], &n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("version policy '", spec, "': '", words[i], "' is not a number"));
    }
    numbers.push_back(n);
  }
  if (words[0] == "latest") {
    if (numbers.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat("version policy '", spec, "': latest [N]"));
    }
    return Parse("latest", numbers.empty() ? 1 : static_cast<int>(numbers[0]), {});
  }
  if (words[0] == "all" && numbers.empty()) return Parse("all", 1, {});
  return Parse(words[0], 1, numbers);
}

const char* VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kLoading:
      return "loading";
    case VersionState::kReady:
      return "ready";
    case VersionState::kUnloading:
      return "unloading";
    case VersionState::kFailed:
      return "failed";
    case VersionState::kUnloaded:
      return "unloaded";
  }
  return "unknown";
}

std::set<int64_t> DesiredVersions(const VersionPolicy& policy, const std::set<int64_t>& on_disk) {
  std::set<int64_t> out;
  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      return on_disk;
    case VersionPolicy::Kind::kLatest: {
      int taken = 0;
      for (auto it = on_disk.rbegin(); it != on_disk.rend() && taken < policy.latest;
           ++it, ++taken) {
        out.insert(*it);
      }
      return out;
    }
    case VersionPolicy::Kind::kSpecific:
      for (int64_t v : policy.versions) {
        if (on_disk.count(v)) out.insert(v);
      }
      return out;
  }
  return out;
}

TransitionPlan PlanTransitions(const std::set<int64_t>& desired,
                               const std::map<int64_t, VersionState>& current) {
  TransitionPlan plan;
  bool desired_ready = false;
  for (auto it = desired.rbegin(); it != desired.rend(); ++it) {
    auto cur = current.find(*it);
    if (cur == current.end() || cur->second == VersionState::kUnloaded) {
      plan.load.push_back(*it);
    } else if (cur->second == VersionState::kReady) {
      desired_ready = true;
    }
  }
  if (desired_ready) {
    for (const auto& [version, state] : current) {
      if (state == VersionState::kReady && !desired.count(version)) plan.unload.push_back(version);
    }
  }
  return plan;
}

}  // namespace arginator::server
