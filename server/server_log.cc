#include "server/server_log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace arginator::server {

void ServerLog(const std::string& line) {
  const std::string text =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                   " arginator-server: ", line, "\n");
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace arginator::server
