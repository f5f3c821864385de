#include "server/registry/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_code_names.h"
#include "nlohmann/json.hpp"
#include "server/server_log.h"

namespace arginator::server {
namespace {

nlohmann::json State(const std::map<std::string, int64_t>& labels, const ReleaseSettings& release) {
  nlohmann::json labels_json = nlohmann::json::object();
  for (const auto& [label, version] : labels) labels_json[label] = version;
  return {{"labels", labels_json},
          {"release", nlohmann::json::parse(SerializeReleaseSettings(release))}};
}

}  // namespace

AuditLog::AuditLog(std::string path, Counter count)
    : path_(std::move(path)), count_(std::move(count)) {}

AuditLog::~AuditLog() {
  MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status AuditLog::Open() {
  if (path_.empty()) return absl::OkStatus();
  MutexLock lock(&mu_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "admin.audit_log ", path_, ": cannot open for appending: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string AuditLog::Line(const AuditEntry& e, absl::Time time) {
  nlohmann::json j = {
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone())},
      {"action", e.action},
      {"model", e.model},
      {"identity", e.identity},
      {"result", StatusCodeName(e.result.code())},
      {"message", e.result.ok() ? e.message : std::string(e.result.message())},
      {"before", State(e.labels_before, e.release_before)},
      {"after", State(e.labels_after, e.release_after)},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AuditEntry AuditLog::ForChange(std::string action, std::string model, std::string identity,
                               const absl::StatusOr<ReleaseChange>& change) {
  AuditEntry e;
  e.action = std::move(action);
  e.model = std::move(model);
  e.identity = std::move(identity);
  e.result = change.status();
  if (change.ok()) {
    e.message = change->message;
    e.labels_before = change->labels_before;
    e.labels_after = change->labels_after;
    e.release_before = change->release_before;
    e.release_after = change->release_after;
  }
  return e;
}

void AuditLog::Record(const AuditEntry& entry, bool durable) {
  const std::string line = Line(entry, absl::Now());
  ServerLog(absl::StrCat("audit ", line));
  if (count_) count_(entry.action, StatusCodeName(entry.result.code()));
  MutexLock lock(&mu_);
  if (fd_ < 0) return;
  const std::string out = line + "\n";
  // One write of the whole line (O_APPEND: never interleaved with another writer's line).
  if (::write(fd_, out.data(), out.size()) != static_cast<ssize_t>(out.size()) ||
      (durable && ::fdatasync(fd_) != 0)) {
    ServerLog(absl::StrCat("audit log ", path_, ": write failed: ", std::strerror(errno)));
  }
}

}  // namespace arginator::server
