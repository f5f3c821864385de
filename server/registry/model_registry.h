#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/registry/servable.h"
#include "server/registry/version_policy.h"

namespace arginator::server {

// Lifecycle events, for metrics and logs. Called without registry locks held.
class RegistryObserver {
 public:
  virtual ~RegistryObserver() = default;
  virtual void OnLoaded(const std::string& name, int64_t version, absl::Duration took) {}
  virtual void OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                            absl::Duration took) {}
  virtual void OnUnloaded(const std::string& name, int64_t version) {}
  // A ready version was taken out of service: a forward broke its output contract.
  virtual void OnFailedWhileServing(const std::string& name, int64_t version,
                                    const absl::Status& why) {}
  virtual void OnStates(const std::string& name, const std::map<int64_t, VersionState>& states) {}
  // The version a request without version or label gets changed (previous 0: first one).
  virtual void OnServing(const std::string& name, int64_t version, int64_t previous) {}
};

// Which version a request wants: an exact version, a label, or (neither) the default.
struct VersionSelector {
  std::optional<int64_t> version;
  std::optional<std::string> label;
};

// A complete version directory as the watcher found it. `fingerprint` changes whenever either
// file does (size, mtime, inode): a failed version is retried only once it has changed.
struct VersionOnDisk {
  explicit VersionOnDisk(std::string dir, std::string fingerprint = "")
      : dir(std::move(dir)), fingerprint(std::move(fingerprint)) {}
  std::string dir;
  std::string fingerprint;
};

struct VersionView {
  int64_t version;
  VersionState state;
  std::string reason;
  std::vector<std::string> labels;
};

struct ModelView {
  std::string name;
  ServableHandle default_version;  // null when none is ready
  std::vector<VersionView> versions;
};

// Owns every model version's lifecycle (TF Serving's AspiredVersionsManager, simplified): loads
// what the policy wants, swaps with availability preserved, hands out ref-counted handles, and
// destroys unloaded versions only after their last in-flight request releases its handle.
// Thread-safe. Loads run on the caller's thread (the repository watcher's).
class ModelRegistry {
 public:
  struct Options {
    VersionPolicy policy;                                 // for models without their own
    std::map<std::string, std::string> default_labels;    // model -> label that is its default
    std::map<std::string, VersionPolicy> model_policies;  // model -> its own policy
    // A failed version whose files change is loaded again, but not sooner than this after its
    // last failure, doubling with each consecutive failure up to the max (a copy in progress
    // changes on every poll; each attempt may hash gigabytes).
    absl::Duration retry_backoff = absl::Seconds(1);
    absl::Duration max_retry_backoff = absl::Minutes(5);
    // Persists a model's labels before SetLabel changes them (labels.json in the repository);
    // empty: labels live in memory only.
    std::function<absl::Status(const std::string& name,
                               const std::map<std::string, int64_t>& labels)>
        persist_labels;
  };

  ModelRegistry(Options options, VersionLoader* loader, RegistryObserver* observer);
  ~ModelRegistry();

  // Brings `name` in line with the versions on disk. Failed versions are not retried, unless
  // their fingerprint changed and their backoff has passed.
  void Reconcile(const std::string& name, const std::map<int64_t, VersionOnDisk>& on_disk);

  absl::StatusOr<ServableHandle> Get(const std::string& name,
                                     const VersionSelector& selector) const;

  // Admin: pin a version (load it even if the policy would not) or exclude it (unload it, unless
  // it is the model's last ready version). They take effect on the next Reconcile.
  absl::Status Pin(const std::string& name, int64_t version);
  absl::Status Exclude(const std::string& name, int64_t version);
  // Takes back a Pin whose load did not succeed (no-op when not pinned).
  void Unpin(const std::string& name, int64_t version);
  // Points `label` at a ready version; version 0 removes the label. Persisted first (see
  // Options::persist_labels): if that fails, nothing changes and the error says why.
  absl::Status SetLabel(const std::string& name, const std::string& label, int64_t version);
  // Replaces a model's labels with those of its labels file (the watcher, when it changes).
  // A label may point at a version that is not ready (yet): requests by it fail naming the
  // version's state rather than going elsewhere. Labelled versions on disk are always loaded,
  // whatever the policy, and UnloadVersion refuses them.
  void ReplaceLabels(const std::string& name, std::map<std::string, int64_t> labels);

  // Takes a ready version out of service after one of its forwards broke the model's output
  // contract (IsOutputContractError): it becomes FAILED with the reason, is unloaded once its
  // in-flight requests release it, and is retried only when its files change or by LoadVersion.
  // Labels pointing at it stay, so requests by label fail clearly instead of moving elsewhere.
  // Returns false if `servable` is no longer that version's ready servable (already reported).
  bool MarkFailed(const ServableVersion* servable, const absl::Status& why);

  // Drops `name` if it has no version in any state (nothing loaded, loading, failed or
  // unloading); returns whether it did. For models whose directory is gone.
  bool ForgetIfEmpty(const std::string& name);

  std::vector<ModelView> Snapshot() const;
  // Whether `name` is a model of the repository (whatever the state of its versions).
  bool Knows(const std::string& name) const;
  // True when every model in `names` has a ready version.
  bool AllReady(const std::vector<std::string>& names) const;

  // Destroys unloading versions no request holds any more, and returns freed memory to the OS
  // once no version has been unloaded for kTrimAfterQuiet. Call periodically (the watcher does).
  void ReapUnloaded();
  static constexpr absl::Duration kTrimAfterQuiet = absl::Seconds(2);
  // Drains and drops everything (shutdown).
  void Clear();

 private:
  std::mutex trim_mu_;
  bool trim_pending_ = false;  // versions were unloaded since the last malloc_trim
  absl::Time last_unload_;

  struct VersionEntry {
    VersionState state = VersionState::kLoading;
    std::string reason;
    std::string dir;
    std::shared_ptr<ServableVersion> servable;
    std::string fingerprint;  // of the files the last load read
    int failures = 0;         // consecutive failed loads
    absl::Time retry_after;   // a failed version is not retried before this
  };
  struct ModelEntry {
    std::map<int64_t, VersionEntry> versions;
    std::map<std::string, int64_t> labels;
    std::set<int64_t> pinned, excluded;
    std::vector<std::shared_ptr<ServableVersion>> unloading;
  };

  void LoadOne(const std::string& name, int64_t version, const VersionOnDisk& files);
  void Unload(const std::string& name, int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FAILED with `reason`; retried (when its files change) after the backoff of its count of
  // consecutive failures.
  void MarkEntryFailed(VersionEntry& e, std::string reason) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<int64_t, VersionState> States(const ModelEntry& m) const;
  void NotifyStates(const std::string& name);
  int64_t DefaultVersion(const std::string& name) const;

  const Options options_;
  VersionLoader* const loader_;
  RegistryObserver* const observer_;
  mutable std::mutex mu_;
  std::map<std::string, ModelEntry> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server
