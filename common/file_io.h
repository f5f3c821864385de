#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace arginator {

// Whole-file read; NOT_FOUND names the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// OK when `path` (after symlinks) is a regular file of at most `max_bytes`; FAILED_PRECONDITION
// naming the path otherwise, NOT_FOUND when it cannot be stat'ed. For files a hostile writer may
// plant: reading a FIFO blocks forever and /dev/zero never ends.
absl::Status CheckRegularFile(const std::string& path, uintmax_t max_bytes);

// Writes `contents` to `path` (truncating) and fsyncs the file before returning, so a later rename
// of its directory publishes complete bytes.
absl::Status WriteFileDurably(const std::string& path, std::string_view contents);

// Replaces `path` with `contents` atomically: a hidden temporary file beside it, fsynced, renamed
// over it, the directory fsynced; a reader sees the old or the new file, never a part.
absl::Status ReplaceFileAtomically(const std::string& path, std::string_view contents);

// fsyncs a directory so renames and creations inside it survive a crash.
absl::Status FsyncDirectory(const std::string& path);

}  // namespace arginator
