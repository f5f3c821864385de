#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace arginator {

// Whole-file read; NOT_FOUND names the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `contents` to `path` (truncating) and fsyncs the file before returning, so a later rename
// of its directory publishes complete bytes.
absl::Status WriteFileDurably(const std::string& path, std::string_view contents);

// fsyncs a directory so renames and creations inside it survive a crash.
absl::Status FsyncDirectory(const std::string& path);

}  // namespace arginator
