#include "trainer/publish.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;

absl::Status FsyncTree(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return absl::InternalError(absl::StrCat(entry.path().string(), ": fsync failed"));
    }
    ::close(fd);
  }
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": cannot list: ", ec.message()));
  return FsyncDirectory(dir.string());
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  std::string host(name);
  std::replace(host.begin(), host.end(), '-', '_');  // '-' separates the staging name's fields
  return host;
}

// Whether staging directory `name` (.tmp-<host>-<pid>-<n>, or .tmp-<pid>-<n> from older trainers)
// belongs to a trainer that is gone: one on this host whose process no longer runs, or any
// untouched for a day (a killed pod on a shared volume, or a restarted container whose pid is
// taken again; a live publish writes its files within minutes of creating the directory).
bool IsStaleStaging(const fs::directory_entry& entry, const std::string& host) {
  const std::string name = entry.path().filename().string();
  if (name.rfind(".tmp-", 0) != 0) return false;
  std::vector<std::string> fields = absl::StrSplit(name.substr(5), '-');
  if (fields.size() == 2) fields.insert(fields.begin(), host);
  int64_t pid = 0;
  if (fields.size() != 3 || !absl::SimpleAtoi(fields[1], &pid) || pid <= 0) return false;
  if (fields[0] == host && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
  std::error_code ec;
  const auto modified = fs::last_write_time(entry.path(), ec);
  return !ec && fs::file_time_type::clock::now() - modified > std::chrono::hours(24);
}

}  // namespace

int RemoveStaleStaging(const std::string& model_dir) {
  const std::string host = HostName();
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    if (!entry.is_directory(ec) || !IsStaleStaging(entry, host)) continue;
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
    removed += !rm;
  }
  return removed;
}

int64_t HighestVersion(const std::string& model_dir) {
  int64_t highest = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    int64_t v = 0;
    std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && absl::SimpleAtoi(name, &v) && v > 0 && name[0] != '+') {
      highest = std::max(highest, v);
    }
  }
  return highest;
}

absl::StatusOr<PublishedVersion> PublishVersion(const std::string& repository,
                                                const std::string& name,
                                                const VersionWriter& write) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("invalid model name '", name, "'"));
  }
  const fs::path model_dir = fs::path(repository) / name;
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(model_dir.string(), ": cannot create: ", ec.message()));
  }
  RemoveStaleStaging(model_dir.string());
  std::random_device entropy;
  const fs::path tmp =
      model_dir / absl::StrCat(".tmp-", HostName(), "-", ::getpid(), "-", entropy());
  if (!fs::create_directory(tmp, ec)) {
    return absl::PermissionDeniedError(absl::StrCat(tmp.string(), ": cannot create"));
  }
  auto cleanup = [&](absl::Status status) {
    fs::remove_all(tmp, ec);
    return status;
  };
  int64_t version = HighestVersion(model_dir.string()) + 1;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (absl::Status s = write(tmp.string(), version); !s.ok()) return cleanup(s);
    if (absl::Status s = FsyncTree(tmp); !s.ok()) return cleanup(s);
    const fs::path target = model_dir / std::to_string(version);
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
      ARG_RETURN_IF_ERROR(FsyncDirectory(model_dir.string()));
      return PublishedVersion{version, target.string()};
    }
    if (errno != EEXIST && errno != ENOTEMPTY) {
      return cleanup(absl::InternalError(absl::StrCat(
          "cannot rename ", tmp.string(), " to ", target.string(), ": ", std::strerror(errno))));
    }
    version = std::max(version + 1, HighestVersion(model_dir.string()) + 1);
  }
  return cleanup(absl::AbortedError(
      absl::StrCat("could not claim a version number under ", model_dir.string())));
}

}  // namespace arginator::trainer
