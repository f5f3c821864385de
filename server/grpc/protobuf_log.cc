#include "server/grpc/protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include <iostream>

#include "absl/time/clock.h"

namespace arginator::server {

bool LogLimiter::Allow(absl::Time now, int64_t* dropped_before) {
  MutexLock lock(&mu_);
  *dropped_before = 0;
  if (now - window_start_ >= window_) {
    *dropped_before = dropped_;
    window_start_ = now;
    lines_ = 0;
    dropped_ = 0;
  }
  if (lines_ < burst_) {
    ++lines_;
    return true;
  }
  ++dropped_;
  return false;
}

namespace {

LogLimiter* protobuf_limiter = nullptr;  // set once, before any parse

const char* LevelName(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return "INFO";
    case google::protobuf::LOGLEVEL_WARNING:
      return "WARNING";
    case google::protobuf::LOGLEVEL_ERROR:
      return "ERROR";
    case google::protobuf::LOGLEVEL_FATAL:
      return "FATAL";
  }
  return "?";
}

void LimitedHandler(google::protobuf::LogLevel level, const char* filename, int line,
                    const std::string& message) {
  int64_t dropped = 0;
  if (level != google::protobuf::LOGLEVEL_FATAL &&
      !protobuf_limiter->Allow(absl::Now(), &dropped)) {
    return;
  }
  if (dropped > 0) {
    std::cerr << "[libprotobuf] " << dropped << " log line(s) dropped by the rate limit\n";
  }
  std::cerr << "[libprotobuf " << LevelName(level) << " " << filename << ":" << line << "] "
            << message << std::endl;
}

}  // namespace

void LimitProtobufLog(int burst, absl::Duration window) {
  static LogLimiter limiter(burst, window);
  protobuf_limiter = &limiter;
  google::protobuf::SetLogHandler(&LimitedHandler);
}

}  // namespace arginator::server
