#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/release_settings.h"
#include "common/version_labels.h"
#include "server/registry/load_pool.h"
#include "server/registry/registry_observer.h"
#include "server/registry/servable.h"
#include "server/registry/version_loader.h"
#include "server/registry/version_policy.h"
#include "server/registry/version_reclaimer.h"

namespace arginator::server {

// Which version a request wants: an exact version, a label, or (neither) the default.
struct VersionSelector {
  std::optional<int64_t> version;
  std::optional<std::string> label;
  // A hash of the request's own id (RequestIdHash), when it has one: a request that names
  // neither version nor label and is retried with the same id lands on the same side of a canary
  // split (and of shadowing). Hashed by the caller, outside the registry's lock.
  std::optional<uint64_t> request_hash;
};

// The hash of a request id a VersionSelector carries (FNV-1a): the same on every replica and after
// a restart. Inline: the edges' request parsers hash ids without linking the registry.
inline uint64_t RequestIdHash(std::string_view request_id) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : request_id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// What serves a request (ModelRegistry::RouteRequest): the version that answers it and, when it
// went by default and was sampled, the version that shadows it.
struct Route {
  ServableHandle primary;
  ServableHandle shadow;  // null when not shadowed
  bool canary = false;    // `primary` is the canary's version, chosen by the split
};

// A change of a model's labels and release settings (the admin's release actions), before and
// after, for the audit log.
struct ReleaseChange {
  std::map<std::string, int64_t> labels_before, labels_after;
  ReleaseSettings release_before, release_after;
  std::string message;  // what happened, for the caller
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
  std::map<std::string, int64_t> labels;
  ReleaseSettings release;
  std::string default_label;  // in effect: release.default_label, the config's, or `stable`
};

// Owns every model version and its state (TF Serving's AspiredVersionsManager, simplified): loads
// what the policy wants, swaps with availability preserved, and hands out ref-counted handles. An
// unloaded version is destroyed by the VersionReclaimer once its last in-flight request releases
// its handle. Thread-safe. Loads run on the LoadPool, never under a lock requests take.
class ModelRegistry {
 public:
  // From the config's models section (RegistryOptions(config) in server/component_options.h).
  struct Options {
    VersionPolicy policy;                                 // for models without their own
    std::map<std::string, std::string> default_labels;    // model -> label that is its default
    std::map<std::string, VersionPolicy> model_policies;  // model -> its own policy
    // A failed version whose files change is loaded again, but not sooner than this after its
    // last failure, doubling with each consecutive failure up to the max (a copy in progress
    // changes on every poll; each attempt may hash gigabytes).
    absl::Duration retry_backoff;
    absl::Duration max_retry_backoff;
    // Persists a model's labels before SetLabel changes them (labels.json in the repository);
    // empty: labels live in memory only.
    std::function<absl::Status(const std::string& name,
                               const std::map<std::string, int64_t>& labels)>
        persist_labels;
    // Persists a model's release settings (release.json) before a release action changes them;
    // empty: in memory only.
    std::function<absl::Status(const std::string& name, const ReleaseSettings& release)>
        persist_release;
    // How long `previous` (the version a promote replaced) stays labelled, and loaded, for an
    // instant rollback (models.previous_grace_s); the next promote replaces it sooner.
    absl::Duration previous_grace = absl::Hours(24);
    const Clock* clock = &Clock::Real();  // retry backoff and the reclaimer's memory trimming
    // Threads versions load on (models.load_threads); 0 loads on the thread that reconciles.
    int load_threads = 0;
    // A version label is a name clients send: at most server.max_name_bytes, so that the labels
    // file the server writes is one it reads back after a restart.
    size_t max_label_bytes = kMaxLabelBytes;
  };

  ModelRegistry(Options options, VersionLoader* loader, RegistryObserver* observer);
  ~ModelRegistry();

  // Brings `name` in line with the versions on disk: starts loading what the policy wants on the
  // load pool and returns (with no load threads, after the loads); versions no longer wanted are
  // unloaded as soon as a wanted one is ready. Failed versions are not retried, unless their
  // fingerprint changed and their backoff has passed.
  void Reconcile(const std::string& name, const std::map<int64_t, VersionOnDisk>& on_disk);
  // Waits until every load started so far has finished (startup, tests, shutdown).
  void AwaitLoads();
  // Waits until `version` of `name` is no longer loading, then returns it like Get (ModelAdmin's
  // LoadVersion answers with the load's result).
  absl::StatusOr<ServableHandle> AwaitVersion(const std::string& name, int64_t version);

  // The version a selector names; without version or label, the default label's version (no
  // canary split: metadata and readiness read what the model stands on).
  absl::StatusOr<ServableHandle> Get(const std::string& name,
                                     const VersionSelector& selector) const;
  // Get for a request to serve: a request that names neither version nor label goes to the
  // `canary` version for canary_percent of such requests (by its request_id when it has one,
  // else an even spread), and a shadow_percent sample of those left on the default also gets the
  // `shadow` version. A canary or shadow version that is not ready is skipped, never failed on.
  absl::StatusOr<Route> RouteRequest(const std::string& name,
                                     const VersionSelector& selector) const;

  // Admin: pin a version (the next Reconcile loads it even if the policy would not; a FAILED one
  // is retried) or exclude it (unloaded at once, unless it carries a label or is the model's last
  // ready version, and not loaded again until pinned).
  absl::Status Pin(const std::string& name, int64_t version);
  absl::Status Exclude(const std::string& name, int64_t version);
  // Takes back a Pin whose load did not succeed (no-op when not pinned).
  void Unpin(const std::string& name, int64_t version);
  // Points `label` at a ready version; version 0 removes the label. Persisted first (see
  // Options::persist_labels): if that fails, nothing changes and the error says why.
  // INVALID_ARGUMENT for an empty label or one over max_label_bytes, or a negative version;
  // RESOURCE_EXHAUSTED for a new label past kMaxLabelsPerModel.
  absl::Status SetLabel(const std::string& name, const std::string& label, int64_t version);
  size_t max_label_bytes() const { return options_.max_label_bytes; }
  // Replaces a model's labels with those of its labels file (the watcher, when it changes).
  // A label may point at a version that is not ready (yet): requests by it fail naming the
  // version's state rather than going elsewhere. Labelled versions on disk are always loaded,
  // whatever the policy, and UnloadVersion refuses them.
  void ReplaceLabels(const std::string& name, std::map<std::string, int64_t> labels);
  // The watcher's: `read` replaces the model's labels and/or settings with what its files hold
  // (it gets the current ones to overwrite; an error leaves everything as it was). It runs under
  // the lock release actions hold while persisting, so it never reads a file older than what the
  // model has (a stale read applied after a newer action would undo it). The change, or nullopt
  // when the files held what the model has.
  using FileRead =
      std::function<absl::Status(std::map<std::string, int64_t>& labels, ReleaseSettings& release)>;
  std::optional<ReleaseChange> ApplyFiles(const std::string& name, const FileRead& read);
  // The labels and release settings of `name` now (empty for an unknown model).
  std::map<std::string, int64_t> Labels(const std::string& name) const;
  ReleaseSettings Release(const std::string& name) const;

  // Release actions (ModelAdmin), each atomic for requests: one lock switches labels and
  // settings together, after both files are persisted. FAILED_PRECONDITION when the state does
  // not allow it, naming why.
  // promote: `stable` (the default label) -> the canary's version, the version default requests
  // got until now kept as `previous` (loaded) for previous_grace, the canary label and its share
  // cleared.
  absl::StatusOr<ReleaseChange> Promote(const std::string& name);
  // rollback: during a canary, the canary withdrawn; after a promote, the default label back on
  // `previous`. Never needs a load: `previous` kept its version loaded.
  absl::StatusOr<ReleaseChange> Rollback(const std::string& name);
  // `canary` -> `version` (0 keeps it where it is) taking `percent` of default requests.
  absl::StatusOr<ReleaseChange> SetCanary(const std::string& name, int64_t version, double percent);
  // `shadow` -> `version`, sampling `percent` of default requests; version 0 stops shadowing.
  absl::StatusOr<ReleaseChange> SetShadow(const std::string& name, int64_t version, double percent);
  // The label default requests follow (one the model has); empty goes back to the config's, else
  // `stable`.
  absl::StatusOr<ReleaseChange> SetDefaultLabel(const std::string& name, const std::string& label);
  // Drops `previous` labels whose grace has passed (the watcher, after each poll).
  std::vector<std::pair<std::string, ReleaseChange>> ExpirePrevious();

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

  // Waits until every version unloaded so far, and released by its requests, is destroyed and
  // reported (OnUnloaded). Unloads complete by themselves; this is for tests and shutdown.
  void FlushUnloads();
  // Drains every batcher and drops every version (shutdown); returns once they are destroyed.
  void Clear();

 private:
  struct VersionEntry {
    VersionState state = VersionState::kLoading;
    std::string reason;
    std::string dir;
    std::shared_ptr<ServableVersion> servable;  // tracked by reclaimer_; null unless kReady
    std::string fingerprint;                    // of the files the last load read
    int failures = 0;                           // consecutive failed loads
    absl::Time retry_after;                     // a failed version is not retried before this
  };
  struct ModelEntry {
    std::map<int64_t, VersionEntry> versions;
    std::map<std::string, int64_t> labels;
    ReleaseSettings release;
    std::set<int64_t> pinned, excluded;
    std::set<int64_t> desired;  // by the last Reconcile
    int64_t serving = 0;        // the default version last reported (OnServing)
  };

  // Runs `edit` on a copy of the model's labels and settings (under the lock, with its versions
  // in view), persists what changed, then applies both at once. Release actions and SetLabel go
  // through here, one at a time.
  using ReleaseEdit =
      std::function<absl::Status(const ModelEntry& model, std::map<std::string, int64_t>& labels,
                                 ReleaseSettings& release, std::string& message)>;
  absl::StatusOr<ReleaseChange> Change(const std::string& name, const ReleaseEdit& edit);
  std::string DefaultLabel(const std::string& name, const ModelEntry& m) const;
  // The version default requests get outside any canary share (0: none ready).
  int64_t EffectiveDefault(const std::string& name, const ModelEntry& m) const;
  // The version a selector names (`split`: with the canary and shadow choices), under the lock.
  absl::StatusOr<Route> Resolve(const std::string& name, const ModelEntry& m,
                                const VersionSelector& selector, bool split) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoadOne(const std::string& name, int64_t version, const VersionOnDisk& files);
  // Unloads what the model's desired set no longer wants once a wanted version is ready, reports
  // the states and a change of the default version. After every Reconcile and every load.
  void Settle(const std::string& name);
  void Unload(const std::string& name, int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FAILED with `reason`; retried (when its files change) after the backoff of its count of
  // consecutive failures.
  void MarkEntryFailed(VersionEntry& e, std::string reason) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<int64_t, VersionState> States(const ModelEntry& m) const;
  // The reclaimer destroyed a version no longer served: UNLOADED, unless it was reloaded or failed.
  void OnReclaimed(const std::string& name, int64_t version);
  absl::Status ModelNotFound(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Loading(const std::string& name, int64_t version) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyStates(const std::string& name);
  int64_t DefaultVersion(const std::string& name) const;

  const Options options_;
  VersionLoader* const loader_;
  RegistryObserver* const observer_;
  mutable Mutex mu_;
  std::map<std::string, ModelEntry> models_ ABSL_GUARDED_BY(mu_);
  int loads_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  Mutex change_mu_;  // one Change at a time (its persisting runs outside mu_)
  // Spreads requests without an id evenly over a canary split and a shadow sample.
  mutable std::atomic<uint64_t> draws_{0};
  CondVar loads_done_;  // a load finished
  // Destroyed first (declared last), while the registry they call back into lives.
  VersionReclaimer reclaimer_;
  LoadPool pool_;
};

}  // namespace arginator::server
