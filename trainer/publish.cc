#include "trainer/publish.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;

absl::Status FsyncTree(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return absl::InternalError(absl::StrCat(entry.path().string(), ": fsync failed"));
    }
    ::close(fd);
  }
  return FsyncDirectory(dir.string());
}

}  // namespace

int64_t HighestVersion(const std::string& model_dir) {
  int64_t highest = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    int64_t v = 0;
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && absl::SimpleAtoi(name, &v) && v > 0 && name[0] != '+') {
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
  std::random_device entropy;
  const fs::path tmp = model_dir / absl::StrCat(".tmp-", ::getpid(), "-", entropy());
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
