#pragma once

#include <string>

namespace arginator::server {

// Process-wide settings arginator-server makes before any thread starts: absl::Mutex deadlock
// detection off (common/mutex_mode.h), the allocator tuned for tensors (common/allocator.h),
// libprotobuf's log rate-limited, SIGPIPE ignored (a peer hanging up mid-write costs that write
// an EPIPE, not the process: cpp-httplib and OpenSSL write without MSG_NOSIGNAL), and SIGTERM and
// SIGINT blocked in every thread so that only WaitForTerminationSignal receives them.
void PrepareServerProcess();

// Waits for SIGTERM or SIGINT and returns "received SIGTERM" or "received SIGINT".
std::string WaitForTerminationSignal();

}  // namespace arginator::server
