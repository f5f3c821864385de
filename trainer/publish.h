#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace arginator::trainer {

// Writes a version's files into `dir`, knowing the version number it will be published as.
using VersionWriter = std::function<absl::Status(const std::string& dir, int64_t version)>;

struct PublishedVersion {
  int64_t version = 0;
  std::string path;  // <repository>/<name>/<version>
};

// The highest numbered version directory under <repository>/<name> (0 if none). Hidden and
// non-numeric entries are ignored.
int64_t HighestVersion(const std::string& model_dir);

// Removes staging directories that killed trainers left in `model_dir` (hidden .tmp-<host>-<pid>-*
// directories whose process on this host is gone, or any untouched for a day); returns how many.
// The server ignores them meanwhile (hidden entries are never versions).
int RemoveStaleStaging(const std::string& model_dir);

// Publishes atomically, after removing stale staging directories (RemoveStaleStaging): `write`
// fills a hidden temporary directory inside <repository>/<name>, everything is fsynced, and the
// directory is renamed (RENAME_NOREPLACE) to the next free version. If another publisher takes that
// number first, `write` runs again for the next number, so two concurrent publishes never collide
// and a reader never sees a half-written version. On failure the temporary directory is removed.
absl::StatusOr<PublishedVersion> PublishVersion(const std::string& repository,
                                                const std::string& name,
                                                const VersionWriter& write);

}  // namespace arginator::trainer
