#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace arginator::server {

// Lets at most `burst` log lines through per `window`. Thread-safe.
class LogLimiter {
 public:
  LogLimiter(int burst, absl::Duration window) : burst_(burst), window_(window) {}

  // Whether a line at `now` may be written. When it is the first line of a new window after one
  // that dropped lines, `*dropped_before` gets how many (else 0), for the caller to say so.
  bool Allow(absl::Time now, int64_t* dropped_before);

 private:
  const int burst_;
  const absl::Duration window_;
  Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int lines_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

// libprotobuf logs one ERROR line for every message whose string field is not UTF-8 (the parse
// then fails and the request is answered INVALID_ARGUMENT and counted), so any client could fill
// the server's log. This routes libprotobuf's log through a LogLimiter of `burst` lines per
// `window` to stderr; FATAL lines always pass. Process-wide; call once at startup.
void LimitProtobufLog(int burst, absl::Duration window);

}  // namespace arginator::server
