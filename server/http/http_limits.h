#pragma once

#include <cstddef>

#include "absl/time/time.h"

namespace arginator::server {

// What an HTTP port of the server bounds, so that no peer can hold its threads or grow its memory
// past these. The values come from the config's metrics and rest sections (configs/server.yaml).
// Connections are served asynchronously: a slow or idle peer holds a connection slot and its
// timer, never a thread.
struct HttpLimits {
  int threads = 0;          // threads running handlers and I/O
  int max_connections = 0;  // open connections; more wait in the listen backlog
  absl::Duration
      read_timeout;  // a whole request (TLS handshake, headers, body) from its first byte
  absl::Duration write_timeout;       // a whole response
  absl::Duration keep_alive_timeout;  // idle between two requests on a connection
  // A request body, counted after de-chunking and after gzip/deflate decompression; larger ones
  // get 413 before the body is read (Content-Length) or as soon as it passes the limit. 0: any
  // body is refused.
  size_t max_request_body_bytes = 0;
  // Request bodies buffered across all connections together; a request that would pass it gets
  // 503 with Retry-After. Bounds the port's memory for bodies whatever the number of peers.
  size_t max_buffered_bytes = 0;
  size_t max_header_bytes = 0;  // request line and header fields together; more: 431
  size_t max_headers = 0;       // header fields; more: 431
};

}  // namespace arginator::server
