#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "common/mutex.h"
#include "common/release_settings.h"
#include "server/registry/model_registry.h"

namespace arginator::server {

// One admin action or release change, as the audit log records it.
struct AuditEntry {
  std::string action;  // load, unload, label_set, canary_set, promote, ..., labels_file
  std::string model;
  // Who asked: the name of the admin token (admin.tokens), or what changed the state by itself:
  // "labels.json" / "release.json" (an edit of the repository's files), "grace" (a lapsed
  // `previous`).
  std::string identity;
  absl::Status result;
  std::string message;  // what happened (or why it was refused)
  // The model's labels and release settings before and after (equal when refused).
  std::map<std::string, int64_t> labels_before, labels_after;
  ReleaseSettings release_before, release_after;
};

// The audit trail of a lab that must show who changed which model version and when: every entry
// is one JSON object on one line, in the server's log ("arginator-server: audit {...}") and, when
// admin.audit_log names a file, appended to it and fsynced before the action's answer goes back.
// `count(action, result code)` feeds arginator_admin_actions_total. Thread-safe.
class AuditLog {
 public:
  using Counter = std::function<void(const std::string& action, const std::string& code)>;
  AuditLog(std::string path, Counter count);
  ~AuditLog();
  // Opens (creating) the file for appending; FAILED_PRECONDITION naming it when it cannot be.
  absl::Status Open();
  // `durable`: fsync the file before returning (refused calls, which anyone can send, are not).
  void Record(const AuditEntry& entry, bool durable = true);
  // The JSON line of an entry (no newline), at `time`.
  static std::string Line(const AuditEntry& entry, absl::Time time);
  // An entry for a change of the registry's release state.
  static AuditEntry ForChange(std::string action, std::string model, std::string identity,
                              const absl::StatusOr<ReleaseChange>& change);

 private:
  const std::string path_;
  const Counter count_;
  Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace arginator::server
