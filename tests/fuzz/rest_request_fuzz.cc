// Bytes -> one raw HTTP request on the v2 REST port -> everything the server does with it before
// the model: the connection's checks (ParseHttpRequest: headers, limits, chunked and gzip
// bodies), routing (percent-decoded paths), the error answers it would send, and for an infer
// request the bounded JSON parse and the v2 decode. Checks the contracts: every error body is
// valid UTF-8 JSON, refusals carry the statuses the server documents, decoded bodies stay within
// the limit, and the JSON the decoder sees is within the depth limit.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bounded_json.h"
#include "nlohmann/json.hpp"
#include "server/http/http_server.h"
#include "server/rest/rest_infer_json.h"
#include "server/rest/rest_routes.h"
#include "server/v2/infer_tensors.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace server = arginator::server;

server::HttpLimits Limits() {
  server::HttpLimits l;
  l.max_request_body_bytes = 1 << 16;
  l.max_header_bytes = 4096;
  l.max_headers = 32;
  return l;
}

// The answer must be what a strict JSON parser (which refuses invalid UTF-8) reads back.
void CheckErrorBody(const server::HttpResponse& r) {
  const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded() && j.is_object() && j["error"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const server::HttpLimits limits = Limits();
  const server::ParsedHttpRequest parsed = server::ParseHttpRequest(bytes, "REST", limits);
  if (parsed.refusal) {
    const int s = parsed.refusal->status;
    FUZZ_CHECK(s == 400 || s == 413 || s == 415 || s == 431);
    CheckErrorBody(server::RestErrorResponse(s, parsed.refusal->message));
    return 0;
  }
  if (!parsed.request) return 0;  // incomplete: the connection would wait for more
  const server::HttpRequest& req = *parsed.request;
  FUZZ_CHECK(req.body.size() <= limits.max_request_body_bytes);
  for (const auto& [name, value] : req.headers) {
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  }

  absl::StatusOr<server::RestRoute> route = server::ParseRestTarget(req.target);
  if (!route.ok()) {
    FUZZ_CHECK(route.status().code() == absl::StatusCode::kInvalidArgument);
    CheckErrorBody(server::RestErrorResponse(400, std::string(route.status().message())));
    return 0;
  }
  CheckErrorBody(server::RestErrorResponse(404, server::NoSuchEndpoint(req.method, req.target)));
  CheckErrorBody(server::RestErrorResponse(404, "model '" + route->name + "' is not served"));
  server::ModelRef model;
  model.name = route->name;
  model.version = route->version;
  absl::StatusOr<server::VersionSelector> version = server::ParseModelRef(model);
  if (!version.ok())
    CheckErrorBody(server::RestErrorResponse(400, std::string(version.status().message())));
  if (route->endpoint != server::RestRoute::kInfer) return 0;

  arginator::JsonLimits json_limits;
  json_limits.max_depth = 8;
  json_limits.max_values = 4096;
  absl::StatusOr<nlohmann::json> body =
      arginator::ParseBoundedJson(req.body, json_limits, "the request body");
  if (!body.ok()) {
    CheckErrorBody(server::RestErrorResponse(400, std::string(body.status().message())));
    return 0;
  }
  server::InferRequest request;
  std::vector<float> values;
  absl::Status decoded = server::DecodeRestInferRequest(*body, "", request, values);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == absl::StatusCode::kInvalidArgument);
    CheckErrorBody(server::RestErrorResponse(400, std::string(decoded.message())));
  }
  return 0;
}
