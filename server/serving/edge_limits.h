#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace arginator::server {

// What the server echoes back to clients, on every protocol, is bounded (server.max_name_bytes
// and server.max_status_message_bytes). Process-wide: SetEdgeLimits once at startup, before
// serving; until then, the config's defaults.
struct EdgeLimits {
  // A model name or version label longer than this is refused without being repeated (client
  // strings go into errors, logs and metric labels).
  size_t max_name_bytes = 0;
  // Error messages are cut to this many bytes (a long id or list in a message would otherwise
  // exceed a gRPC client's metadata limit and turn into RESOURCE_EXHAUSTED).
  size_t max_status_message_bytes = 0;
};
void SetEdgeLimits(const EdgeLimits& limits);
const EdgeLimits& GetEdgeLimits();

// An error message as every protocol sends it: cut on a character boundary to
// max_status_message_bytes, saying how long it was.
std::string CutStatusMessage(absl::string_view message);

}  // namespace arginator::server
