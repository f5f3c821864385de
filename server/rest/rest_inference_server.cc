#include "server/rest/rest_inference_server.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/rest/rest_infer_json.h"
#include "server/rest/rest_routes.h"
#include "server/serving/edge_limits.h"
#include "server/v2/infer_tensors.h"
#include "server/v2/model_metadata.h"

namespace arginator::server {
namespace {

using nlohmann::json;

constexpr char kHeaderLength[] = "Inference-Header-Content-Length";
constexpr char kHeaderLengthField[] = "inference-header-content-length";  // as HttpRequest has it
constexpr int kNotReady = 400;  // the spec's "4xx" for a false health answer, as Triton answers

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpResponse Error(const absl::Status& status) {
  // The same cut to server.max_status_message_bytes as gRPC statuses.
  return RestErrorResponse(HttpStatus(status.code()), CutStatusMessage(status.message()));
}

HttpResponse Bare(int status) { return HttpResponse{status, "", "", {}}; }

json Elements(const InferOutput& o) {
  if (o.datatype == "FP32") return o.fp32;
  if (o.datatype == "INT32") return o.int32;
  if (o.datatype == "BOOL") {
    json a = json::array();
    for (uint8_t b : o.boolean) a.push_back(b != 0);
    return a;
  }
  return o.bytes;
}

// One POST .../infer on the serving path. Owns the request's bytes and its responder; answers
// and deletes itself when the request finishes (possibly on the batcher's thread), so the HTTP
// thread is free while the batch runs.
class RestInferCall final : public ServingCall {
 public:
  RestInferCall(std::string body, size_t header_length, const JsonLimits& json_limits,
                HttpResponder respond)
      : body_(std::move(body)),
        header_length_(header_length),
        json_limits_(json_limits),
        respond_(std::move(respond)) {}

  void Start(ServingPath* path, const std::string& name, const std::string& version,
             absl::Time arrival, absl::Time transport_deadline) {
    view_.model_name = name;
    view_.model_version = version;
    if (absl::Status s = Decode(); !s.ok()) {
      path->Refuse(RequestMethod::kModelInferRest, name, s);
      return Finish(s);
    }
    InferModelRef(view_, model());
    evidence() = InferEvidence(view_);
    path->Serve(this, RequestMethod::kModelInferRest,
                InferDeadline(view_, arrival, transport_deadline));
  }

 private:
  // The JSON header (bounded) and the binary section after it, as v2 tensors.
  absl::Status Decode() {
    const std::string_view all = body_;
    bool parse_error = false;
    absl::Status s =
        ParseRestInferRequest(all.substr(0, header_length_), all.substr(header_length_),
                              json_limits_, view_, values_, &parse_error);
    if (parse_error) {
      return absl::InvalidArgumentError(absl::StrCat(
          s.message(), header_length_ == all.size() ? " (a binary request needs the " +
                                                          std::string(kHeaderLength) + " header)"
                                                    : ""));
    }
    return s;
  }

  absl::Status DecodeRows(const ModelCard& card, RequestRows& rows) override {
    return DecodeInferRows(view_, card, rows);
  }

  absl::Status Encode(const ServingAnswer& answer) override {
    BuildInferOutputs(view_, answer, outputs_);
    model_name_ = answer.card.name;
    model_version_ = absl::StrCat(answer.card.version);
    return absl::OkStatus();
  }

  void Finish(const absl::Status& status) override {
    HttpResponse response = status.ok() ? Body() : Error(status);
    HttpResponder respond = std::move(respond_);
    delete this;
    respond(std::move(response));
  }

  // The JSON, then the binary outputs in order, with the JSON's length in a header if any.
  HttpResponse Body() const {
    json outputs = json::array();
    std::string binary;
    for (const InferOutput& o : outputs_) {
      json t = {{"name", o.name}, {"datatype", o.datatype}, {"shape", o.shape}};
      json parameters = json::object();
      if (!o.labels.empty()) parameters["labels"] = o.labels;
      if (o.binary) {
        const std::string raw = RawContents(o);
        parameters["binary_data_size"] = raw.size();
        binary += raw;
      } else {
        t["data"] = Elements(o);
      }
      if (!parameters.empty()) t["parameters"] = parameters;
      outputs.push_back(std::move(t));
    }
    json body = {{"model_name", model_name_}, {"model_version", model_version_}};
    if (!view_.id.empty()) body["id"] = view_.id;
    body["outputs"] = std::move(outputs);
    std::string text = DumpJson(body);
    if (binary.empty()) return HttpResponse{200, "application/json", std::move(text), {}};
    HttpResponse response{200, "application/octet-stream", text + binary, {}};
    response.headers.emplace_back(kHeaderLength, std::to_string(text.size()));
    return response;
  }

  const std::string body_;
  const size_t header_length_;
  const JsonLimits json_limits_;
  HttpResponder respond_;
  InferRequest view_;
  std::vector<float> values_;  // typed input values from the JSON
  std::vector<InferOutput> outputs_;
  std::string model_name_, model_version_;
};

HttpResponse ModelMetadataJson(const ModelMetadata& m) {
  json inputs = json::array(), outputs = json::array();
  for (const TensorMetadata& t : m.inputs) {
    inputs.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  }
  for (const TensorMetadata& t : m.outputs) {
    outputs.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  }
  return RestJsonResponse(200, {{"name", m.name},
                                {"versions", m.versions},
                                {"platform", kPlatform},
                                {"inputs", inputs},
                                {"outputs", outputs}});
}

}  // namespace

RestInferenceServer::RestInferenceServer(ServingPath* path, const ServingStatus* status,
                                         Options options)
    : path_(path), status_(status), options_(std::move(options)) {}

RestInferenceServer::~RestInferenceServer() { Stop(); }

absl::Status RestInferenceServer::Start(const std::string& host, int port) {
  HttpServer::Options o;
  o.name = "REST";
  o.limits = options_.limits;
  o.tls_cert = options_.tls_cert;
  o.tls_key = options_.tls_key;
  o.tls_client_ca = options_.tls_client_ca;
  o.error_body = RestErrorResponse;
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      std::move(o), [this](HttpRequest r, HttpResponder respond) { Handle(std::move(r), respond); },
      host, port);
  if (!http.ok()) return http.status();
  http_ = *std::move(http);
  return absl::OkStatus();
}

void RestInferenceServer::Stop() {
  if (http_) http_->Stop();
}

void RestInferenceServer::Handle(HttpRequest req, HttpResponder respond) const {
  absl::StatusOr<RestRoute> parsed = ParseRestTarget(req.target);
  if (!parsed.ok()) return respond(Error(parsed.status()));
  const RestRoute& route = *parsed;
  const bool head = req.method == "HEAD";
  const bool get = req.method == "GET" || head;
  const bool infer = route.endpoint == RestRoute::kInfer;
  if (route.endpoint == RestRoute::kNone) {
    return respond(RestErrorResponse(404, NoSuchEndpoint(req.method, req.target)));
  }
  if (infer ? req.method != "POST" : !get) {
    HttpResponse r = RestErrorResponse(405, MethodNotAllowed(req.method, req.target));
    r.headers.emplace_back("Allow", infer ? "POST" : "GET, HEAD");
    return respond(std::move(r));
  }
  HttpResponse response = Bare(200);
  switch (route.endpoint) {
    case RestRoute::kServer:
      response = RestJsonResponse(200, {{"name", kServerName},
                                        {"version", ServerVersion()},
                                        {"extensions", SupportedExtensions()}});
      break;
    case RestRoute::kLive:
      response = Bare(status_->Live() ? 200 : kNotReady);
      break;
    case RestRoute::kReady:
      response = Bare(status_->Ready() ? 200 : kNotReady);
      break;
    case RestRoute::kModelReady: {
      absl::StatusOr<bool> ready = ModelIsReady(*status_, route.name, route.version);
      response = !ready.ok() ? Error(ready.status()) : Bare(*ready ? 200 : kNotReady);
      break;
    }
    case RestRoute::kModel: {
      absl::StatusOr<ModelMetadata> m = GetModelMetadata(*path_, route.name, route.version);
      response = m.ok() ? ModelMetadataJson(*m) : Error(m.status());
      break;
    }
    case RestRoute::kInfer:
      return Infer(route.name, route.version, std::move(req), std::move(respond));
    case RestRoute::kNone:
      break;
  }
  if (head) response.body.clear();
  respond(std::move(response));
}

void RestInferenceServer::Infer(const std::string& name, const std::string& version,
                                HttpRequest req, HttpResponder respond) const {
  const absl::Time arrival = absl::Now();
  auto refuse = [&](const absl::Status& refused) {
    path_->Refuse(RequestMethod::kModelInferRest, name, refused);
    respond(Error(refused));
  };
  if (status_->draining()) {
    return refuse(
        absl::UnavailableError("server is shutting down: send the request to another replica"));
  }
  size_t header_length = req.body.size();
  if (const std::string* length = req.Header(kHeaderLengthField)) {
    if (!absl::SimpleAtoi(*length, &header_length) || header_length > req.body.size()) {
      return refuse(absl::InvalidArgumentError(absl::StrCat(
          kHeaderLength, " must be a byte count within the body's ", req.body.size(), " bytes")));
    }
  }
  // Deletes itself when it answers.
  auto* call = new RestInferCall(std::move(req.body), header_length, options_.json, respond);
  call->Start(path_, name, version, arrival, arrival + options_.request_timeout);
}

}  // namespace arginator::server
