#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace arginator::server {

// The body of a request sent with Content-Encoding `encoding` ("gzip", "deflate", "identity" or
// empty), decoded, never growing past `max_bytes`: a small compressed body that inflates past the
// limit is RESOURCE_EXHAUSTED as soon as it does, without inflating the rest. UNIMPLEMENTED for an
// encoding it does not know, INVALID_ARGUMENT for a corrupt stream.
absl::StatusOr<std::string> DecodeContent(const std::string& encoding, std::string body,
                                          size_t max_bytes);

}  // namespace arginator::server
