#include "server/server_config.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/layered_yaml.h"
#include "common/status_macros.h"
#include "server/server_config_defaults.h"

namespace arginator::server {
namespace {

// ~31 years; gRPC takes keepalive milliseconds as an int (~24 days).
constexpr double kMaxSeconds = 1e9, kMaxGrpcSeconds = 2e6;

// Reads keys of the layered config and remembers which it read, so that a key added to
// configs/server.yaml but never read is an error rather than a setting that does nothing.
class ConfigReader {
 public:
  explicit ConfigReader(const YAML::Node& root) : root_(root) {}

  template <typename T>
  absl::Status Read(const std::string& key, T& out) {
    read_.insert(key);
    return ReadKey(root_, key, out);
  }
  // A duration given in seconds. Checked before it is converted: a NaN, an infinity or a value
  // beyond what it becomes would be undefined behaviour, and a negative one nonsense.
  absl::Status Seconds(const std::string& key, absl::Duration& out, double max = kMaxSeconds) {
    double seconds = 0;
    ARG_RETURN_IF_ERROR(Read(key, seconds));
    ARG_RETURN_IF_ERROR(Require(
        std::isfinite(seconds) && seconds >= 0 && seconds <= max,
        absl::StrCat(key, " is ", seconds, "; it must be a number of seconds in [0, ", max, "]")));
    out = absl::Seconds(seconds);
    return absl::OkStatus();
  }
  // Whole seconds, at least 1.
  absl::Status WholeSeconds(const std::string& key, absl::Duration& out) {
    int64_t seconds = 0;
    ARG_RETURN_IF_ERROR(Read(key, seconds));
    ARG_RETURN_IF_ERROR(
        Require(seconds >= 1 && seconds <= kMaxSeconds,
                absl::StrCat(key, " must be a whole number of seconds in [1, 1e9]")));
    out = absl::Seconds(seconds);
    return absl::OkStatus();
  }
  // INTERNAL naming a default key no section read.
  absl::Status CheckEveryKeyRead() const {
    static const std::vector<std::string>* const keys =
        new std::vector<std::string>(LeafKeys(YAML::Load(kServerConfigDefaults)));
    for (const std::string& key : *keys) {
      if (!read_.count(key)) {
        return absl::InternalError(
            absl::StrCat("config key '", key, "' of configs/server.yaml is never read"));
      }
    }
    return absl::OkStatus();
  }

 private:
  const YAML::Node root_;
  std::set<std::string> read_;
};

absl::Status ReadServerSection(ConfigReader& r, ServerConfig& c) {
  ARG_RETURN_IF_ERROR(r.Read("server.host", c.host));
  ARG_RETURN_IF_ERROR(r.Read("server.port", c.port));
  ARG_RETURN_IF_ERROR(r.Read("server.metrics_port", c.metrics_port));
  ARG_RETURN_IF_ERROR(r.Read("server.rest_port", c.rest_port));
  ARG_RETURN_IF_ERROR(r.Read("server.device", c.device));
  ARG_RETURN_IF_ERROR(r.Read("server.intra_op_threads", c.intra_op_threads));
  ARG_RETURN_IF_ERROR(r.Read("server.max_embeddings_per_request", c.max_embeddings_per_request));
  ARG_RETURN_IF_ERROR(r.Read("server.max_input_dim", c.max_input_dim));
  ARG_RETURN_IF_ERROR(r.Read("server.stream_max_in_flight", c.stream_max_in_flight));
  ARG_RETURN_IF_ERROR(r.Seconds("server.grace_period_s", c.grace_period));
  ARG_RETURN_IF_ERROR(r.Seconds("server.drain_delay_s", c.drain_delay));
  ARG_RETURN_IF_ERROR(r.Read("server.max_name_bytes", c.max_name_bytes));
  ARG_RETURN_IF_ERROR(r.Read("server.max_status_message_bytes", c.max_status_message_bytes));
  ARG_RETURN_IF_ERROR(Require(c.port >= 0 && c.port < 65536,
                              absl::StrCat("server.port ", c.port, " is not a port")));
  ARG_RETURN_IF_ERROR(Require(c.metrics_port >= -1 && c.metrics_port < 65536,
                              absl::StrCat("server.metrics_port ", c.metrics_port,
                                           " is not a port (-1 disables metrics)")));
  ARG_RETURN_IF_ERROR(
      Require(c.rest_port >= -1 && c.rest_port < 65536,
              absl::StrCat("server.rest_port ", c.rest_port, " is not a port (-1 disables REST)")));
  ARG_RETURN_IF_ERROR(
      Require(c.max_embeddings_per_request > 0, "server.max_embeddings_per_request must be > 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.max_embeddings_per_request <= 1 << 20 && c.max_input_dim >= 1 &&
                  c.max_input_dim <= 1 << 16 &&
                  c.max_embeddings_per_request * (c.max_input_dim * 4 + 1024) <= (1LL << 30),
              "server.max_embeddings_per_request x (server.max_input_dim x 4 + 1 KB) must be at "
              "most 1 GB (the largest message gRPC receives)"));
  ARG_RETURN_IF_ERROR(
      Require(c.stream_max_in_flight > 0, "server.stream_max_in_flight must be > 0"));
  ARG_RETURN_IF_ERROR(Require(c.max_name_bytes >= 16 && c.max_name_bytes <= 65536,
                              "server.max_name_bytes must be in [16, 65536]"));
  return Require(c.max_status_message_bytes >= 128 && c.max_status_message_bytes <= 65536,
                 "server.max_status_message_bytes must be in [128, 65536]");
}

absl::Status ReadModelsSection(ConfigReader& r, ServerConfig& c) {
  std::string policy_kind;
  int latest = 0;
  std::vector<int64_t> versions;
  std::map<std::string, std::string> policies;
  ARG_RETURN_IF_ERROR(r.Read("models.repository", c.repository));
  ARG_RETURN_IF_ERROR(r.Seconds("models.poll_interval_s", c.poll_interval));
  ARG_RETURN_IF_ERROR(r.Read("models.policy", policy_kind));
  ARG_RETURN_IF_ERROR(r.Read("models.latest", latest));
  ARG_RETURN_IF_ERROR(r.Read("models.versions", versions));
  ARG_RETURN_IF_ERROR(r.Read("models.policies", policies));
  ARG_RETURN_IF_ERROR(r.Read("models.required", c.required_models));
  ARG_RETURN_IF_ERROR(r.Read("models.default_labels", c.default_labels));
  ARG_RETURN_IF_ERROR(r.Read("models.max_card_bytes", c.max_card_bytes));
  ARG_RETURN_IF_ERROR(r.Read("models.max_model_bytes", c.max_model_bytes));
  ARG_RETURN_IF_ERROR(r.Seconds("models.load_timeout_s", c.load_timeout));
  ARG_RETURN_IF_ERROR(r.Read("models.warmup_batches", c.warmup_batches));
  ARG_RETURN_IF_ERROR(r.Read("models.load_threads", c.load_threads));
  ARG_RETURN_IF_ERROR(r.Seconds("models.retry_backoff_s", c.retry_backoff));
  ARG_RETURN_IF_ERROR(r.Seconds("models.max_retry_backoff_s", c.max_retry_backoff));
  ARG_RETURN_IF_ERROR(r.Read("models.links_outside_repository", c.links_outside_repository));
  ARG_RETURN_IF_ERROR(r.Read("models.persist_labels", c.persist_labels));
  ARG_RETURN_IF_ERROR(r.Seconds("models.previous_grace_s", c.previous_grace));
  ARG_ASSIGN_OR_RETURN(c.policy, VersionPolicy::Parse(policy_kind, latest, versions));
  for (const auto& [model, spec] : policies) {
    absl::StatusOr<VersionPolicy> policy = VersionPolicy::ParseSpec(spec);
    if (!policy.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("models.policies.", model, ": ", policy.status().message()));
    }
    c.model_policies[model] = *policy;
  }
  ARG_RETURN_IF_ERROR(
      Require(c.poll_interval > absl::ZeroDuration(), "models.poll_interval_s must be > 0"));
  ARG_RETURN_IF_ERROR(Require(c.max_card_bytes > 0 && c.max_model_bytes > 0,
                              "models.max_card_bytes and models.max_model_bytes must be > 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.load_timeout > absl::ZeroDuration(), "models.load_timeout_s must be > 0"));
  ARG_RETURN_IF_ERROR(Require(c.warmup_batches >= 0 && c.warmup_batches <= 100,
                              "models.warmup_batches must be in [0, 100]"));
  ARG_RETURN_IF_ERROR(Require(c.load_threads >= 1 && c.load_threads <= 64,
                              "models.load_threads must be in [1, 64]"));
  return Require(c.retry_backoff > absl::ZeroDuration() && c.max_retry_backoff >= c.retry_backoff,
                 "models.retry_backoff_s must be > 0 and at most models.max_retry_backoff_s");
}

// metrics.* or rest.*: the HTTP server's threads, connections, timeouts and header limits.
absl::Status ReadHttpSection(ConfigReader& r, const std::string& section, HttpLimits& limits) {
  int64_t header_bytes = 0, headers = 0;
  ARG_RETURN_IF_ERROR(r.Read(section + ".threads", limits.threads));
  ARG_RETURN_IF_ERROR(r.Read(section + ".max_connections", limits.max_connections));
  ARG_RETURN_IF_ERROR(r.Read(section + ".max_header_bytes", header_bytes));
  ARG_RETURN_IF_ERROR(r.Read(section + ".max_headers", headers));
  ARG_RETURN_IF_ERROR(Require(limits.max_connections >= 1 && limits.max_connections <= 1000000,
                              absl::StrCat(section, ".max_connections must be in [1, 1e6]")));
  ARG_RETURN_IF_ERROR(Require(header_bytes >= 1024 && header_bytes <= (64 << 20),
                              absl::StrCat(section, ".max_header_bytes must be in [1024, 64 MB]")));
  ARG_RETURN_IF_ERROR(Require(headers >= 8 && headers <= 100000,
                              absl::StrCat(section, ".max_headers must be in [8, 100000]")));
  limits.max_header_bytes = static_cast<size_t>(header_bytes);
  limits.max_headers = static_cast<size_t>(headers);
  ARG_RETURN_IF_ERROR(r.Seconds(section + ".read_timeout_s", limits.read_timeout));
  ARG_RETURN_IF_ERROR(r.Seconds(section + ".write_timeout_s", limits.write_timeout));
  ARG_RETURN_IF_ERROR(r.WholeSeconds(section + ".keep_alive_timeout_s", limits.keep_alive_timeout));
  ARG_RETURN_IF_ERROR(Require(limits.threads > 0, absl::StrCat(section, ".threads must be > 0")));
  return Require(
      limits.read_timeout > absl::ZeroDuration() && limits.write_timeout > absl::ZeroDuration(),
      absl::StrCat(section, ".read_timeout_s and ", section, ".write_timeout_s must be > 0"));
}

// rest.*: what request bodies may cost, buffered and parsed.
absl::Status ReadRestBodyLimits(ConfigReader& r, ServerConfig& c) {
  int64_t buffered = 0, depth = 0, values = 0;
  ARG_RETURN_IF_ERROR(r.Read("rest.max_buffered_bytes", buffered));
  ARG_RETURN_IF_ERROR(r.Read("rest.max_json_depth", depth));
  ARG_RETURN_IF_ERROR(r.Read("rest.max_json_values", values));
  ARG_RETURN_IF_ERROR(r.Seconds("rest.request_timeout_s", c.rest_request_timeout));
  ARG_RETURN_IF_ERROR(
      Require(c.rest_request_timeout > absl::ZeroDuration(), "rest.request_timeout_s must be > 0"));
  ARG_RETURN_IF_ERROR(Require(buffered >= static_cast<int64_t>(c.rest_http.max_request_body_bytes),
                              "rest.max_buffered_bytes must be at least rest.max_request_bytes"));
  ARG_RETURN_IF_ERROR(
      Require(depth >= 4 && depth <= 1000, "rest.max_json_depth must be in [4, 1000]"));
  ARG_RETURN_IF_ERROR(Require(values >= 1024, "rest.max_json_values must be at least 1024"));
  c.rest_http.max_buffered_bytes = static_cast<size_t>(buffered);
  c.metrics_http.max_buffered_bytes = 0;
  c.rest_json.max_depth = static_cast<size_t>(depth);
  c.rest_json.max_values = static_cast<size_t>(values);
  return absl::OkStatus();
}

absl::Status ReadBatchingSection(ConfigReader& r, BatcherOptions& b) {
  int64_t delay_us = 0;
  ARG_RETURN_IF_ERROR(r.Read("batching.enabled", b.enabled));
  ARG_RETURN_IF_ERROR(r.Read("batching.max_batch_size", b.max_batch_size));
  ARG_RETURN_IF_ERROR(r.Read("batching.max_queue_delay_us", delay_us));
  ARG_RETURN_IF_ERROR(r.Read("batching.max_queue_rows", b.max_queue_rows));
  ARG_RETURN_IF_ERROR(r.Read("batching.executor_yields", b.executor_yields));
  ARG_RETURN_IF_ERROR(r.Read("batching.inline_max_rows", b.inline_max_rows));
  ARG_RETURN_IF_ERROR(Require(b.max_batch_size > 0, "batching.max_batch_size must be > 0"));
  ARG_RETURN_IF_ERROR(Require(b.max_queue_rows >= b.max_batch_size,
                              "batching.max_queue_rows must be >= batching.max_batch_size"));
  ARG_RETURN_IF_ERROR(Require(delay_us >= 0, "batching.max_queue_delay_us must be >= 0"));
  ARG_RETURN_IF_ERROR(Require(b.executor_yields >= 0 && b.executor_yields <= 16,
                              "batching.executor_yields must be in [0, 16]"));
  ARG_RETURN_IF_ERROR(Require(b.inline_max_rows >= 0, "batching.inline_max_rows must be >= 0"));
  b.max_queue_delay = absl::Microseconds(delay_us);
  return absl::OkStatus();
}

absl::Status ReadTransportSections(ConfigReader& r, ServerConfig& c) {
  ARG_RETURN_IF_ERROR(r.Read("tls.cert", c.tls_cert));
  ARG_RETURN_IF_ERROR(r.Read("tls.key", c.tls_key));
  ARG_RETURN_IF_ERROR(r.Read("tls.client_ca", c.tls_client_ca));
  ARG_RETURN_IF_ERROR(
      Require(c.tls_cert.empty() == c.tls_key.empty(), "tls.cert and tls.key go together"));
  ARG_RETURN_IF_ERROR(Require(c.tls_client_ca.empty() || !c.tls_cert.empty(),
                              "tls.client_ca (mutual TLS) needs tls.cert and tls.key"));
  for (const auto& [key, out] :
       {std::pair<const char*, int64_t*>{"keepalive.time_s", &c.keepalive_time_ms},
        {"keepalive.timeout_s", &c.keepalive_timeout_ms},
        {"keepalive.max_connection_age_s", &c.max_connection_age_ms},
        {"keepalive.max_connection_age_grace_s", &c.max_connection_age_grace_ms}}) {
    absl::Duration d;
    ARG_RETURN_IF_ERROR(r.Seconds(key, d, kMaxGrpcSeconds));
    *out = absl::ToInt64Milliseconds(d);
  }
  return absl::OkStatus();
}

absl::Status ReadAdminSection(ConfigReader& r, ServerConfig& c) {
  std::string token_env;
  ARG_RETURN_IF_ERROR(r.Read("admin.enabled", c.admin_enabled));
  ARG_RETURN_IF_ERROR(r.Read("admin.token", c.admin_token));
  ARG_RETURN_IF_ERROR(r.Read("admin.token_env", token_env));
  if (c.admin_token.empty() && !token_env.empty()) {
    if (const char* env = std::getenv(token_env.c_str())) c.admin_token = env;
  }
  std::map<std::string, std::string> token_files;
  ARG_RETURN_IF_ERROR(r.Read("admin.tokens", token_files));
  ARG_RETURN_IF_ERROR(r.Read("admin.audit_log", c.admin_audit_log));
  c.admin_tokens.clear();
  if (!c.admin_token.empty()) c.admin_tokens["admin"] = c.admin_token;
  for (const auto& [name, file] : token_files) {
    ARG_RETURN_IF_ERROR(CheckRegularFile(file, 4096));
    ARG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(file));
    const std::string token(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
    ARG_RETURN_IF_ERROR(Require(
        !token.empty(), absl::StrCat("admin.tokens.", name, ": ", file, " holds no token")));
    for (const auto& [other, t] : c.admin_tokens) {
      ARG_RETURN_IF_ERROR(Require(t != token, absl::StrCat("admin.tokens.", name, " and ", other,
                                                           " have the same token; the audit log "
                                                           "could not tell them apart")));
    }
    c.admin_tokens[name] = token;
  }
  return Require(!c.admin_enabled || !c.admin_tokens.empty(),
                 absl::StrCat("admin.enabled needs admin.token, $", token_env, " or admin.tokens"));
}

}  // namespace

const char* DefaultServerConfigYaml() { return kServerConfigDefaults; }

const ServerConfig& DefaultServerConfig() {
  static const ServerConfig* const defaults = [] {
    absl::StatusOr<ServerConfig> c = LoadServerConfig("", {});
    if (!c.ok()) {  // configs/server.yaml as compiled in does not load: a build defect
      std::fprintf(stderr, "configs/server.yaml: %s\n", std::string(c.status().message()).c_str());
      std::abort();
    }
    return new ServerConfig(*std::move(c));
  }();
  return *defaults;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path,
                                              const std::vector<std::string>& overrides) {
  ARG_ASSIGN_OR_RETURN(YAML::Node root, LoadLayeredYaml(kServerConfigDefaults, path, overrides));
  ConfigReader reader(root);
  ServerConfig c;
  ARG_RETURN_IF_ERROR(ReadServerSection(reader, c));
  ARG_RETURN_IF_ERROR(ReadModelsSection(reader, c));
  ARG_RETURN_IF_ERROR(ReadHttpSection(reader, "metrics", c.metrics_http));
  ARG_RETURN_IF_ERROR(ReadHttpSection(reader, "rest", c.rest_http));
  int64_t rest_max_request_bytes = 0;
  ARG_RETURN_IF_ERROR(reader.Read("rest.max_request_bytes", rest_max_request_bytes));
  ARG_RETURN_IF_ERROR(
      Require(rest_max_request_bytes >= 4096, "rest.max_request_bytes must be at least 4096"));
  c.rest_http.max_request_body_bytes = static_cast<size_t>(rest_max_request_bytes);
  c.metrics_http.max_request_body_bytes = 0;  // GET only
  ARG_RETURN_IF_ERROR(ReadRestBodyLimits(reader, c));
  ARG_RETURN_IF_ERROR(ReadBatchingSection(reader, c.batching));
  ARG_RETURN_IF_ERROR(ReadTransportSections(reader, c));
  ARG_RETURN_IF_ERROR(ReadAdminSection(reader, c));
  ARG_RETURN_IF_ERROR(reader.CheckEveryKeyRead());
  return c;
}

}  // namespace arginator::server
