#include "server/serving/edge_limits.h"

#include "absl/strings/str_cat.h"
#include "common/bounded_json.h"
#include "server/server_config.h"

namespace arginator::server {
namespace {

// Written once, before any request (SetEdgeLimits); until then the config's defaults.
EdgeLimits& EdgeLimitsInForce() {
  static EdgeLimits limits = {static_cast<size_t>(DefaultServerConfig().max_name_bytes),
                              static_cast<size_t>(DefaultServerConfig().max_status_message_bytes)};
  return limits;
}

}  // namespace

void SetEdgeLimits(const EdgeLimits& limits) { EdgeLimitsInForce() = limits; }
const EdgeLimits& GetEdgeLimits() { return EdgeLimitsInForce(); }

std::string CutStatusMessage(absl::string_view message) {
  std::string out(message);
  const size_t max = GetEdgeLimits().max_status_message_bytes;
  if (out.size() <= max) return out;
  const size_t full = out.size();
  out = Utf8Prefix(out, max);
  absl::StrAppend(&out, "... (cut; ", full, " bytes in all)");
  return out;
}

}  // namespace arginator::server
