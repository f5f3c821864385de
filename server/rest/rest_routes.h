#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
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

// A v2 REST answer with a JSON body: valid UTF-8 whatever strings it echoes (invalid bytes
// become U+FFFD).
HttpResponse RestJsonResponse(int status, const nlohmann::json& body);

// The v2 REST error answer, {"error": message}.
HttpResponse RestErrorResponse(int status, const std::string& message);

// The 404 and 405 messages for `method` on `target`, both cut (on character boundaries) to bound
// what a client can make the server echo.
std::string NoSuchEndpoint(const std::string& method, const std::string& target);
std::string MethodNotAllowed(const std::string& method, const std::string& target);

}  // namespace arginator::server
