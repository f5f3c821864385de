#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/registry/audit_log.h"
#include "server/registry/model_registry.h"

namespace arginator::server {

// Polls the model repository (<root>/<name>/<version>/{model.pt,model.json}) and reconciles the
// registry with what is there. Hidden entries (".tmp-*" publishes in progress) and version
// directories without both files are ignored, so half-written versions are never loaded; a model
// directory without a complete version is not a model. Entries that cannot be read (a symlink
// loop, a dangling link, one removed mid-scan) are skipped, never fatal. A model's labels.json
// (version_labels.h) is read when it changes and replaces the model's labels; a file that does
// not parse is logged once and ignored, and a file removed clears them. release.json
// (release_settings.h) the same way. A change either file makes by hand (not one the admin API
// just wrote) is audited as "labels_file" / "release_file"; after each poll a `previous` label
// whose grace has passed is dropped (audited as "previous_lapsed").
// Thread-safe; polls are serialized.
class RepositoryWatcher {
 public:
  RepositoryWatcher(std::string root, absl::Duration interval, ModelRegistry* registry,
                    std::function<void()> after_poll, AuditLog* audit = nullptr);
  ~RepositoryWatcher();

  // One scan and reconcile, on the calling thread.
  void PollOnce();
  // Polls every `interval` on a background thread until Stop().
  void Start();
  void Stop();

  // Model names seen in the repository so far.
  std::set<std::string> models() const;

 private:
  const std::string root_;
  const absl::Duration interval_;
  ModelRegistry* const registry_;
  const std::function<void()> after_poll_;
  AuditLog* const audit_;

  Mutex poll_mu_;  // serializes PollOnce
  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> models_ ABSL_GUARDED_BY(mu_);
  // Model -> fingerprint of the labels.json last applied.
  std::map<std::string, std::string> labels_seen_ ABSL_GUARDED_BY(poll_mu_);
  std::map<std::string, std::string> release_seen_ ABSL_GUARDED_BY(poll_mu_);
  std::thread thread_;

  // `audit`: record a change (false for a model seen for the first time).
  void ApplyLabelsFile(const std::string& name, const std::string& model_dir, bool audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  void ApplyReleaseFile(const std::string& name, const std::string& model_dir, bool audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  // What both do: skip a file whose fingerprint did not change since it was last applied, else
  // apply what `read` makes of it (the registry's ApplyFiles) and audit a change as `action`.
  void ApplyFile(const std::string& name, const std::filesystem::path& path,
                 std::map<std::string, std::string>& seen_fingerprints, const std::string& action,
                 bool audit, const ModelRegistry::FileRead& read)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  void Audit(const std::string& action, const std::string& name, const std::string& identity,
             const ReleaseChange& change);
};

}  // namespace arginator::server
