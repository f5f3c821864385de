#pragma once

// Shared by the fuzz targets: a scratch file for readers that take paths, and a check that fails
// the run (libFuzzer saves the input) when a contract of the code under test does not hold.

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace arginator::fuzz {

// A directory of this process's own under the temp dir (two fuzzers may run side by side); each
// Write replaces the file `name` in it. Not thread-safe: a target runs one input at a time.
class ScratchDir {
 public:
  ScratchDir()
      : dir_(std::filesystem::temp_directory_path() / (kPrefix + std::to_string(::getpid()))) {
    RemoveDirsOfDeadProcesses();
    std::filesystem::create_directories(dir_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Writes `size` bytes to a new file `name` and returns its path; aborts if it cannot. The old
  // file is unlinked, not truncated: ext4 flushes a file rewritten after O_TRUNC when it is closed
  // (auto_da_alloc), which cost ~3 ms per input.
  std::string Write(const std::string& name, const uint8_t* data, size_t size) const {
    const std::string path = (dir_ / name).string();
    ::unlink(path.c_str());
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd, data + done, size - done);
      FUZZ_CHECK(n > 0);
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return path;
  }

 private:
  static constexpr const char* kPrefix = "arginator-fuzz-";

  // A crash skips the destructor: the directories of processes that are gone are removed here.
  static void RemoveDirsOfDeadProcesses() {
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(kPrefix, 0) != 0) continue;
      const std::string pid = name.substr(std::char_traits<char>::length(kPrefix));
      if (!std::filesystem::exists("/proc/" + pid)) std::filesystem::remove_all(entry.path(), ec);
    }
  }

  std::filesystem::path dir_;
};

}  // namespace arginator::fuzz
