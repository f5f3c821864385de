#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/http/http_server.h"

namespace arginator::server {

// Where a v2 REST request's target leads: the endpoint and the percent-decoded {name} and
// {version} (any bytes; they are validated where they are used, and echoed only through
// DumpJson, so invalid UTF-8 is safe).
struct RestRoute {
  enum Endpoint { kNone, kServer, kLive, kReady, kModel, kModelReady, kInfer } endpoint = kNone;
  std::string name, version;
};

// The route of `target` (path and query, percent-encoded as sent): /v2, /v2/health/{live,ready},
// /v2/models/{name}[/versions/{version}][/ready|/infer]; kNone for anything else.
// INVALID_ARGUMENT for a malformed percent-encoding.
absl::StatusOr<RestRoute> ParseRestTarget(std::string_view target);

// `segment` with %XX escapes decoded; INVALID_ARGUMENT for a malformed one.
absl::StatusOr<std::string> PercentDecode(std::string_view segment);

// The v2 REST error answer, {"error": message}: valid UTF-8 JSON whatever the message echoes
// (invalid bytes become U+FFFD).
HttpResponse RestErrorResponse(int status, const std::string& message);

// The 404 message for `method` on `target`, both cut (on character boundaries) to bound what a
// client can make the server echo.
std::string NoSuchEndpoint(const std::string& method, const std::string& target);

}  // namespace arginator::server
