#include "server/rest/rest_routes.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/bounded_json.h"

namespace arginator::server {

absl::StatusOr<std::string> PercentDecode(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= segment.size() || !absl::ascii_isxdigit(segment[i + 1]) ||
        !absl::ascii_isxdigit(segment[i + 2])) {
      return absl::InvalidArgumentError("the request path has a malformed percent-encoding");
    }
    for (int k = 1; k <= 2; ++k) {
      const char c = segment[i + k];
      value = value * 16 + (absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10);
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

absl::StatusOr<RestRoute> ParseRestTarget(std::string_view target) {
  const std::string path(target.substr(0, target.find_first_of("?#")));
  std::vector<std::string> s;
  for (const std::string& raw : std::vector<std::string>(absl::StrSplit(path, '/'))) {
    absl::StatusOr<std::string> segment = PercentDecode(raw);
    if (!segment.ok()) return segment.status();
    s.push_back(*std::move(segment));
  }
  RestRoute route;
  if (s.size() < 2 || !s[0].empty() || s[1] != "v2") return route;
  if (s.size() == 2) route.endpoint = RestRoute::kServer;
  if (s.size() == 4 && s[2] == "health") {
    if (s[3] == "live") route.endpoint = RestRoute::kLive;
    if (s[3] == "ready") route.endpoint = RestRoute::kReady;
  }
  if (s.size() < 4 || s[2] != "models" || s[3].empty()) return route;
  route.name = s[3];
  size_t next = 4;
  if (s.size() >= 6 && s[4] == "versions" && !s[5].empty()) {
    route.version = s[5];
    next = 6;
  }
  if (s.size() == next) route.endpoint = RestRoute::kModel;
  if (s.size() == next + 1 && s[next] == "ready") route.endpoint = RestRoute::kModelReady;
  if (s.size() == next + 1 && s[next] == "infer") route.endpoint = RestRoute::kInfer;
  return route;
}

HttpResponse RestJsonResponse(int status, const nlohmann::json& body) {
  return HttpResponse{status, "application/json", DumpJson(body), {}};
}

HttpResponse RestErrorResponse(int status, const std::string& message) {
  return RestJsonResponse(status, {{"error", message}});
}

namespace {

// What of a request's method and target an error may echo.
constexpr size_t kEchoedMethodBytes = 16, kEchoedTargetBytes = 256;

}  // namespace

std::string NoSuchEndpoint(const std::string& method, const std::string& target) {
  return absl::StrCat("no such endpoint: ", Utf8Prefix(method, kEchoedMethodBytes), " ",
                      Utf8Prefix(target, kEchoedTargetBytes));
}

std::string MethodNotAllowed(const std::string& method, const std::string& target) {
  return absl::StrCat(Utf8Prefix(method, kEchoedMethodBytes), " is not allowed on ",
                      Utf8Prefix(target, kEchoedTargetBytes));
}

}  // namespace arginator::server
