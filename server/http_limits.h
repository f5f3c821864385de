#pragma once

#include <cstddef>

#include "absl/time/time.h"

namespace arginator::server {

// What every HTTP port of the server bounds (cpp-httplib's defaults do not): a hostile or slow
// peer can hold at most `threads` connections, each for at most the timeouts. The values come
// from the config's metrics and rest sections (configs/server.yaml).
struct HttpLimits {
  int threads = 0;                    // concurrent connections served
  absl::Duration read_timeout;        // to receive a whole request
  absl::Duration write_timeout;       // to send the response
  absl::Duration keep_alive_timeout;  // whole seconds; idle or slow peers
  size_t max_request_body_bytes = 0;  // larger bodies: 413, never read; 0 refuses any body
};

}  // namespace arginator::server
