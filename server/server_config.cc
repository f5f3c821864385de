#include "server/server_config.h"

#include <cmath>
#include <cstdlib>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/layered_yaml.h"
#include "common/status_macros.h"

namespace arginator::server {
namespace {

constexpr char kDefaults[] = R"yaml(
server:
  host: 0.0.0.0
  port: 50051
  metrics_port: 9464
  rest_port: 8000
  device: cpu
  intra_op_threads: 1
  max_embeddings_per_request: 4096
  stream_max_in_flight: 8
  grace_period_s: 10
  max_name_bytes: 256
  max_status_message_bytes: 1024
models:
  repository: models
  poll_interval_s: 2
  policy: latest
  latest: 1
  versions: []
  policies: {}
  required: []
  default_labels: {}
  max_card_bytes: 67108864
  max_model_bytes: 4294967296
  load_timeout_s: 300
  retry_backoff_s: 1
  max_retry_backoff_s: 300
  links_outside_repository: false
  persist_labels: true
metrics:
  threads: 16
  read_timeout_s: 2
  write_timeout_s: 5
  keep_alive_timeout_s: 2
rest:
  threads: 8
  max_request_bytes: 67108864
  read_timeout_s: 30
  write_timeout_s: 30
  keep_alive_timeout_s: 5
batching:
  enabled: true
  max_batch_size: 64
  max_queue_delay_us: 0
  max_queue_rows: 65536
  executor_yields: 0
  inline_max_rows: 64
tls:
  cert: ""
  key: ""
  client_ca: ""
keepalive:
  time_s: 30
  timeout_s: 10
  max_connection_age_s: 300
  max_connection_age_grace_s: 30
admin:
  enabled: false
  token: ""
  token_env: ARGINATOR_ADMIN_TOKEN
)yaml";

}  // namespace

const char* DefaultServerConfigYaml() { return kDefaults; }

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path,
                                              const std::vector<std::string>& overrides) {
  ARG_ASSIGN_OR_RETURN(YAML::Node root, LoadLayeredYaml(kDefaults, path, overrides));
  ServerConfig c;
  double grace_s, poll_s, keep_time_s, keep_timeout_s, age_s, age_grace_s, metrics_read_s,
      metrics_write_s;
  int64_t metrics_keep_alive_s;
  int64_t delay_us;
  std::string policy_kind, token_env;
  int latest;
  std::vector<int64_t> versions;
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.host", c.host));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.port", c.port));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.metrics_port", c.metrics_port));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.device", c.device));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.intra_op_threads", c.intra_op_threads));
  ARG_RETURN_IF_ERROR(
      ReadKey(root, "server.max_embeddings_per_request", c.max_embeddings_per_request));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.stream_max_in_flight", c.stream_max_in_flight));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.grace_period_s", grace_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.max_name_bytes", c.max_name_bytes));
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.max_status_message_bytes", c.max_status_message_bytes));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.repository", c.repository));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.poll_interval_s", poll_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.policy", policy_kind));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.latest", latest));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.versions", versions));
  std::map<std::string, std::string> policies;
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.policies", policies));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.required", c.required_models));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.default_labels", c.default_labels));
  ARG_RETURN_IF_ERROR(ReadKey(root, "batching.enabled", c.batching.batching));
  ARG_RETURN_IF_ERROR(ReadKey(root, "batching.max_batch_size", c.batching.max_batch_size));
  ARG_RETURN_IF_ERROR(ReadKey(root, "batching.max_queue_delay_us", delay_us));
  ARG_RETURN_IF_ERROR(ReadKey(root, "batching.max_queue_rows", c.batching.max_queue_rows));
  ARG_RETURN_IF_ERROR(ReadKey(root, "batching.executor_yields", c.batching.executor_yields));
  ARG_RETURN_IF_ERROR(ReadKey(root, "batching.inline_max_rows", c.batching.inline_max_rows));
  ARG_RETURN_IF_ERROR(ReadKey(root, "tls.cert", c.tls_cert));
  ARG_RETURN_IF_ERROR(ReadKey(root, "tls.key", c.tls_key));
  ARG_RETURN_IF_ERROR(ReadKey(root, "tls.client_ca", c.tls_client_ca));
  ARG_RETURN_IF_ERROR(ReadKey(root, "keepalive.time_s", keep_time_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "keepalive.timeout_s", keep_timeout_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "keepalive.max_connection_age_s", age_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "keepalive.max_connection_age_grace_s", age_grace_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.max_card_bytes", c.max_card_bytes));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.max_model_bytes", c.max_model_bytes));
  double load_timeout_s;
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.load_timeout_s", load_timeout_s));
  double retry_backoff_s, max_retry_backoff_s;
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.retry_backoff_s", retry_backoff_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.max_retry_backoff_s", max_retry_backoff_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.links_outside_repository", c.links_outside_repository));
  ARG_RETURN_IF_ERROR(ReadKey(root, "models.persist_labels", c.persist_labels));
  ARG_RETURN_IF_ERROR(ReadKey(root, "metrics.threads", c.metrics_threads));
  ARG_RETURN_IF_ERROR(ReadKey(root, "metrics.read_timeout_s", metrics_read_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "metrics.write_timeout_s", metrics_write_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "metrics.keep_alive_timeout_s", metrics_keep_alive_s));
  double rest_read_s, rest_write_s;
  int64_t rest_keep_alive_s;
  ARG_RETURN_IF_ERROR(ReadKey(root, "server.rest_port", c.rest_port));
  ARG_RETURN_IF_ERROR(ReadKey(root, "rest.threads", c.rest_threads));
  ARG_RETURN_IF_ERROR(ReadKey(root, "rest.max_request_bytes", c.rest_max_request_bytes));
  ARG_RETURN_IF_ERROR(ReadKey(root, "rest.read_timeout_s", rest_read_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "rest.write_timeout_s", rest_write_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "rest.keep_alive_timeout_s", rest_keep_alive_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "admin.enabled", c.admin_enabled));
  ARG_RETURN_IF_ERROR(ReadKey(root, "admin.token", c.admin_token));
  ARG_RETURN_IF_ERROR(ReadKey(root, "admin.token_env", token_env));
  // Every duration is checked before it is converted: a NaN, an infinity or a value beyond the
  // integer it becomes (gRPC takes keepalive milliseconds as an int) would be undefined
  // behaviour, and a negative one nonsense.
  constexpr double kMaxSeconds = 1e9, kMaxGrpcSeconds = 2e6;  // ~31 years; int ms: ~24 days
  for (const auto& [key, value, max] :
       {std::tuple<const char*, double, double>{"server.grace_period_s", grace_s, kMaxSeconds},
        {"models.poll_interval_s", poll_s, kMaxSeconds},
        {"models.load_timeout_s", load_timeout_s, kMaxSeconds},
        {"models.retry_backoff_s", retry_backoff_s, kMaxSeconds},
        {"models.max_retry_backoff_s", max_retry_backoff_s, kMaxSeconds},
        {"metrics.read_timeout_s", metrics_read_s, kMaxSeconds},
        {"metrics.write_timeout_s", metrics_write_s, kMaxSeconds},
        {"rest.read_timeout_s", rest_read_s, kMaxSeconds},
        {"rest.write_timeout_s", rest_write_s, kMaxSeconds},
        {"keepalive.time_s", keep_time_s, kMaxGrpcSeconds},
        {"keepalive.timeout_s", keep_timeout_s, kMaxGrpcSeconds},
        {"keepalive.max_connection_age_s", age_s, kMaxGrpcSeconds},
        {"keepalive.max_connection_age_grace_s", age_grace_s, kMaxGrpcSeconds}}) {
    ARG_RETURN_IF_ERROR(Require(
        std::isfinite(value) && value >= 0 && value <= max,
        absl::StrCat(key, " is ", value, "; it must be a number of seconds in [0, ", max, "]")));
  }
  ARG_RETURN_IF_ERROR(Require(metrics_keep_alive_s <= kMaxSeconds,
                              "metrics.keep_alive_timeout_s must be at most 1e9"));
  ARG_RETURN_IF_ERROR(Require(rest_keep_alive_s >= 1 && rest_keep_alive_s <= kMaxSeconds,
                              "rest.keep_alive_timeout_s must be a whole number of seconds in "
                              "[1, 1e9]"));

  ARG_ASSIGN_OR_RETURN(c.policy, VersionPolicy::Parse(policy_kind, latest, versions));
  for (const auto& [model, spec] : policies) {
    absl::StatusOr<VersionPolicy> policy = VersionPolicy::ParseSpec(spec);
    if (!policy.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("models.policies.", model, ": ", policy.status().message()));
    }
    c.model_policies[model] = *policy;
  }
  c.grace_period = absl::Seconds(grace_s);
  c.poll_interval = absl::Seconds(poll_s);
  c.load_timeout = absl::Seconds(load_timeout_s);
  c.retry_backoff = absl::Seconds(retry_backoff_s);
  c.max_retry_backoff = absl::Seconds(max_retry_backoff_s);
  c.batching.max_queue_delay = absl::Microseconds(delay_us);
  c.metrics_read_timeout = absl::Seconds(metrics_read_s);
  c.metrics_write_timeout = absl::Seconds(metrics_write_s);
  c.metrics_keep_alive_timeout = absl::Seconds(metrics_keep_alive_s);
  c.rest_read_timeout = absl::Seconds(rest_read_s);
  c.rest_write_timeout = absl::Seconds(rest_write_s);
  c.rest_keep_alive_timeout = absl::Seconds(rest_keep_alive_s);
  c.keepalive_time_ms = static_cast<int64_t>(keep_time_s * 1000);
  c.keepalive_timeout_ms = static_cast<int64_t>(keep_timeout_s * 1000);
  c.max_connection_age_ms = static_cast<int64_t>(age_s * 1000);
  c.max_connection_age_grace_ms = static_cast<int64_t>(age_grace_s * 1000);
  if (c.admin_token.empty() && !token_env.empty()) {
    if (const char* env = std::getenv(token_env.c_str())) c.admin_token = env;
  }
  ARG_RETURN_IF_ERROR(Require(c.port >= 0 && c.port < 65536,
                              absl::StrCat("server.port ", c.port, " is not a port")));
  ARG_RETURN_IF_ERROR(Require(c.metrics_port >= -1 && c.metrics_port < 65536,
                              absl::StrCat("server.metrics_port ", c.metrics_port,
                                           " is not a port (-1 disables metrics)")));
  ARG_RETURN_IF_ERROR(
      Require(c.rest_port >= -1 && c.rest_port < 65536,
              absl::StrCat("server.rest_port ", c.rest_port, " is not a port (-1 disables REST)")));
  ARG_RETURN_IF_ERROR(Require(c.rest_threads > 0, "rest.threads must be > 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.rest_max_request_bytes >= 4096, "rest.max_request_bytes must be at least 4096"));
  ARG_RETURN_IF_ERROR(Require(rest_read_s > 0 && rest_write_s > 0,
                              "rest.read_timeout_s and rest.write_timeout_s must be > 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.batching.max_batch_size > 0, "batching.max_batch_size must be > 0"));
  ARG_RETURN_IF_ERROR(Require(c.batching.max_queue_rows >= c.batching.max_batch_size,
                              "batching.max_queue_rows must be >= batching.max_batch_size"));
  ARG_RETURN_IF_ERROR(Require(delay_us >= 0, "batching.max_queue_delay_us must be >= 0"));
  ARG_RETURN_IF_ERROR(Require(c.batching.executor_yields >= 0 && c.batching.executor_yields <= 16,
                              "batching.executor_yields must be in [0, 16]"));
  ARG_RETURN_IF_ERROR(
      Require(c.batching.inline_max_rows >= 0, "batching.inline_max_rows must be >= 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.max_embeddings_per_request > 0, "server.max_embeddings_per_request must be > 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.stream_max_in_flight > 0, "server.stream_max_in_flight must be > 0"));
  ARG_RETURN_IF_ERROR(Require(poll_s > 0, "models.poll_interval_s must be > 0"));
  ARG_RETURN_IF_ERROR(Require(c.max_name_bytes >= 16 && c.max_name_bytes <= 65536,
                              "server.max_name_bytes must be in [16, 65536]"));
  ARG_RETURN_IF_ERROR(
      Require(c.max_status_message_bytes >= 128 && c.max_status_message_bytes <= 65536,
              "server.max_status_message_bytes must be in [128, 65536]"));
  ARG_RETURN_IF_ERROR(Require(c.max_card_bytes > 0 && c.max_model_bytes > 0,
                              "models.max_card_bytes and models.max_model_bytes must be > 0"));
  ARG_RETURN_IF_ERROR(Require(load_timeout_s > 0, "models.load_timeout_s must be > 0"));
  ARG_RETURN_IF_ERROR(Require(retry_backoff_s > 0 && max_retry_backoff_s >= retry_backoff_s,
                              "models.retry_backoff_s must be > 0 and at most "
                              "models.max_retry_backoff_s"));
  ARG_RETURN_IF_ERROR(Require(c.metrics_threads > 0, "metrics.threads must be > 0"));
  ARG_RETURN_IF_ERROR(Require(metrics_read_s > 0 && metrics_write_s > 0,
                              "metrics.read_timeout_s and metrics.write_timeout_s must be > 0"));
  ARG_RETURN_IF_ERROR(
      Require(metrics_keep_alive_s >= 1,
              "metrics.keep_alive_timeout_s must be a whole number of seconds >= 1"));
  ARG_RETURN_IF_ERROR(
      Require(c.tls_cert.empty() == c.tls_key.empty(), "tls.cert and tls.key go together"));
  ARG_RETURN_IF_ERROR(Require(c.tls_client_ca.empty() || !c.tls_cert.empty(),
                              "tls.client_ca (mutual TLS) needs tls.cert and tls.key"));
  ARG_RETURN_IF_ERROR(Require(!c.admin_enabled || !c.admin_token.empty(),
                              absl::StrCat("admin.enabled needs admin.token or $", token_env)));
  return c;
}

}  // namespace arginator::server
