#include "server/service/rest_inference_server.h"

#include <httplib.h>

#include <condition_variable>
#include <limits>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/service/grpc_edge.h"
#include "server/service/infer_tensors.h"
#include "server/service/model_metadata.h"
#include "server/service/request_parser.h"
#include "server/service/rest_infer_json.h"

namespace arginator::server {
namespace {

using nlohmann::json;

constexpr char kHeaderLength[] = "Inference-Header-Content-Length";
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

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(httplib::Response& res, const absl::Status& status) {
  // The same cut to server.max_status_message_bytes as gRPC statuses.
  SendJson(res, HttpStatus(status.code()), {{"error", ToGrpcStatus(status).error_message()}});
}

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

// Wakes the HTTP thread when its request finishes; shared, so that the finishing thread never
// touches a job the HTTP thread has already destroyed.
struct Completion {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  absl::Status status;
};

// One POST .../infer on the shared request path, run and awaited on the HTTP thread.
class RestInferJob final : public ServedJob {
 public:
  RestInferJob(std::string_view header, std::string_view binary)
      : header_(header), binary_(binary) {}

  absl::Status Infer(const ClassifyEnv& env, const std::string& name, const std::string& version) {
    auto completion = completion_;
    absl::StatusOr<VersionSelector> selector = ParseModelVersion(version);
    Run(env, RequestMethod::kModelInferRest, name, selector, absl::InfiniteFuture());
    std::unique_lock<std::mutex> lock(completion->mu);
    completion->cv.wait(lock, [&] { return completion->done; });
    return completion->status;
  }

  // The response body: the JSON, then the binary outputs in order; sets the header's length.
  std::string Body(size_t* json_length) const {
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
    std::string text = body.dump();
    *json_length = text.size();
    return text + binary;
  }
  bool any_binary() const {
    for (const InferOutput& o : outputs_) {
      if (o.binary) return true;
    }
    return false;
  }

 private:
  absl::StatusOr<RowsView> ParseRows(const ClassifyEnv& env, const ModelCard& card,
                                     std::vector<float>& scratch,
                                     std::vector<float>& norms) override {
    json body = json::parse(header_, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      return absl::InvalidArgumentError(
          "the request body is not valid JSON (a binary request needs the " +
          std::string(kHeaderLength) + " header)");
    }
    ARG_RETURN_IF_ERROR(DecodeRestInferRequest(body, binary_, view_, values_));
    return ParseInferInputs(view_, card, env.max_embeddings_per_request, scratch, norms);
  }

  absl::Status Respond(const ModelCard& card, RowsView probabilities,
                       const std::vector<float>& norms, const Verdicts& verdicts) override {
    BuildInferOutputs(view_, card, probabilities, norms, verdicts, outputs_);
    model_name_ = card.name;
    model_version_ = absl::StrCat(card.version);
    return absl::OkStatus();
  }

  void Finish(const absl::Status& status) override {
    auto completion = completion_;  // this job may be gone once `done` is seen
    {
      std::lock_guard<std::mutex> lock(completion->mu);
      completion->status = status;
      completion->done = true;
    }
    completion->cv.notify_one();
  }

  const std::string_view header_, binary_;
  std::shared_ptr<Completion> completion_ = std::make_shared<Completion>();
  InferRequest view_;
  std::vector<float> values_;  // typed input values from the JSON
  std::vector<InferOutput> outputs_;
  std::string model_name_, model_version_;
};

// The {name} and optional {version} captured from a /v2/models/... path.
std::pair<std::string, std::string> NameAndVersion(const httplib::Request& req) {
  return {req.matches[1].str(), req.matches.size() > 2 ? req.matches[2].str() : ""};
}

}  // namespace

RestInferenceServer::RestInferenceServer(const ClassifyEnv* env, const ServingStatus* status,
                                         Options options)
    : env_(env), status_(status), options_(std::move(options)) {}

RestInferenceServer::~RestInferenceServer() { Stop(); }

absl::Status RestInferenceServer::Start(const std::string& host, int port) {
  if (options_.tls_cert.empty()) {
    http_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(
        options_.tls_cert.c_str(), options_.tls_key.c_str(),
        options_.tls_client_ca.empty() ? nullptr : options_.tls_client_ca.c_str());
    if (!tls->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("REST: cannot use the TLS certificate ",
                                                     options_.tls_cert, " and key ",
                                                     options_.tls_key));
    }
    http_ = std::move(tls);
  }
  ApplyHttpLimits(options_.limits, *http_);
  // cpp-httplib closes a keep-alive connection after 5 requests by default, so a client would
  // reconnect every 5 calls. Idle connections still close after rest.keep_alive_timeout_s, and
  // rest.threads bounds the connections served at once.
  http_->set_keep_alive_max_count(std::numeric_limits<size_t>::max());
  Route();
  port_ = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0)
    return absl::UnavailableError(absl::StrCat("REST: cannot bind ", host, ":", port));
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return absl::OkStatus();
}

void RestInferenceServer::Stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void RestInferenceServer::Route() {
  httplib::Server& http = *http_;
  const std::string model = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
  http.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200,
             {{"name", kServerName},
              {"version", ServerVersion()},
              {"extensions", SupportedExtensions()}});
  });
  http.Get("/v2/health/live", [this](const httplib::Request&, httplib::Response& res) {
    res.status = status_->Live() ? 200 : kNotReady;
  });
  http.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    res.status = status_->Ready() ? 200 : kNotReady;
  });
  http.Get(model + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
    auto [name, version] = NameAndVersion(req);
    absl::StatusOr<VersionSelector> selector = ParseModelVersion(version);
    if (!selector.ok()) return SendError(res, selector.status());
    res.status = status_->ModelReady(name, *selector) ? 200 : kNotReady;
  });
  http.Get(model, [this](const httplib::Request& req, httplib::Response& res) {
    auto [name, version] = NameAndVersion(req);
    absl::StatusOr<ModelMetadata> m = GetModelMetadata(*env_->registry, name, version);
    if (!m.ok()) return SendError(res, m.status());
    json inputs = json::array(), outputs = json::array();
    for (const TensorMetadata& t : m->inputs) {
      inputs.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
    }
    for (const TensorMetadata& t : m->outputs) {
      outputs.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
    }
    SendJson(res, 200,
             {{"name", m->name},
              {"versions", m->versions},
              {"platform", kPlatform},
              {"inputs", inputs},
              {"outputs", outputs}});
  });
  // With a content reader, because cpp-httplib would parse (and, past 8 KB, refuse with 413) a
  // body sent as application/x-www-form-urlencoded, which is what `curl -d` sends by default.
  http.Post(model + "/infer", [this](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& read) {
    auto [name, version] = NameAndVersion(req);
    std::string content;
    content.reserve(static_cast<size_t>(std::min<uint64_t>(
        req.get_header_value<uint64_t>("Content-Length"), options_.limits.max_request_body_bytes)));
    read([&content](const char* data, size_t length) {
      content.append(data, length);
      return true;
    });
    if (status_->draining()) {
      env_->metrics->RecordRequest(env_->registry->Knows(name) ? name : kUnknownModelLabel, 0,
                                   RequestMethod::kModelInferRest, "UNAVAILABLE", 0);
      return SendError(res, absl::UnavailableError(
                                "server is shutting down: send the request to another replica"));
    }
    std::string_view body = content, header = body, binary;
    if (req.has_header(kHeaderLength)) {
      size_t length = 0;
      if (!absl::SimpleAtoi(req.get_header_value(kHeaderLength), &length) || length > body.size()) {
        return SendError(res, absl::InvalidArgumentError(absl::StrCat(
                                  kHeaderLength, " must be a byte count within the body's ",
                                  body.size(), " bytes")));
      }
      header = body.substr(0, length);
      binary = body.substr(length);
    }
    RestInferJob job(header, binary);
    if (absl::Status s = job.Infer(*env_, name, version); !s.ok()) return SendError(res, s);
    size_t json_length = 0;
    std::string out = job.Body(&json_length);
    if (job.any_binary()) {
      res.set_header(kHeaderLength, std::to_string(json_length));
      res.set_content(out, "application/octet-stream");
    } else {
      res.set_content(out, "application/json");
    }
  });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // A false health or ready answer is a bare 400, as the spec asks; other errors get a body.
    if (!res.body.empty() || res.status == kNotReady) return;
    const std::string what = res.status == 413 ? "the request body exceeds rest.max_request_bytes"
                             : res.status == 404
                                 ? "no such endpoint: " + req.method + " " + req.path.substr(0, 256)
                                 : "HTTP error " + std::to_string(res.status);
    res.set_content(json{{"error", what}}.dump(), "application/json");
  });
}

}  // namespace arginator::server
