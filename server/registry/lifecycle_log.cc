#include "server/registry/lifecycle_log.h"

#include "absl/strings/str_cat.h"
#include "server/server_log.h"

namespace arginator::server {

void LifecycleLog::OnLoaded(const std::string& name, int64_t version, absl::Duration took) {
  ServerLog(absl::StrCat("loaded ", name, " version ", version, " in ", absl::FormatDuration(took),
                         " (verified sha256 and golden examples, warmed up)"));
}

void LifecycleLog::OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                                absl::Duration took) {
  ServerLog(absl::StrCat("FAILED to load ", name, " version ", version, ": ", why.message()));
}

void LifecycleLog::OnFailedWhileServing(const std::string& name, int64_t version,
                                        const absl::Status& why) {
  ServerLog(
      absl::StrCat("FAILED while serving: ", name, " version ", version,
                   " is out of service until its files change or LoadVersion: ", why.message()));
}

void LifecycleLog::OnUnloaded(const std::string& name, int64_t version) {
  ServerLog(absl::StrCat("unloaded ", name, " version ", version));
}

void LifecycleLog::OnServing(const std::string& name, int64_t version, int64_t previous) {
  ServerLog(previous > 0 ? absl::StrCat("swapped ", name, ": now serving version ", version,
                                        " (was ", previous, ")")
                         : absl::StrCat("serving ", name, " version ", version));
}

}  // namespace arginator::server
