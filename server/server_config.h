#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/bounded_json.h"
#include "server/batching/dynamic_batcher.h"
#include "server/http/http_limits.h"
#include "server/registry/version_policy.h"

namespace arginator::server {

// arginator-server's configuration: the built-in defaults, then the --config file, then flags as
// dotted overrides. The defaults are configs/server.yaml itself, compiled in (every key with its
// default and what it does): no other place in the server writes a default down; components'
// option structs take their values from here, and tests that want the server's defaults use
// DefaultServerConfig().
struct ServerConfig {
  std::string host;
  int port;
  int metrics_port;
  int rest_port;  // Open Inference Protocol v2 over HTTP/REST; -1 = off
  std::string device;
  int intra_op_threads;
  int64_t max_embeddings_per_request;
  int64_t max_input_dim;  // the widest model input served; bounds gRPC's receive size
  int stream_max_in_flight;
  absl::Duration grace_period;
  absl::Duration drain_delay;
  int64_t max_name_bytes, max_status_message_bytes;  // what is echoed back to clients
  std::string repository;
  absl::Duration poll_interval;
  VersionPolicy policy;
  std::map<std::string, VersionPolicy> model_policies;
  std::vector<std::string> required_models;  // health waits for these; [] = every model found
  std::map<std::string, std::string> default_labels;
  int64_t max_card_bytes, max_model_bytes;          // repository file limits
  int warmup_batches;                               // forwards before a version takes traffic
  int load_threads;                                 // the registry's load pool
  absl::Duration load_timeout;                      // a version's whole load, checks and warm-up
  absl::Duration retry_backoff, max_retry_backoff;  // failed versions whose files change
  bool links_outside_repository;        // may a version's files resolve outside the repository
  bool persist_labels;                  // SetVersionLabel writes <repository>/<model>/labels.json
  HttpLimits metrics_http;              // the /metrics and /healthz server (GET only: no body)
  HttpLimits rest_http;                 // the v2 REST server
  JsonLimits rest_json;                 // a v2 REST request's JSON
  absl::Duration rest_request_timeout;  // a v2 REST inference request's deadline
  BatcherOptions batching;
  std::string tls_cert, tls_key, tls_client_ca;
  int64_t keepalive_time_ms, keepalive_timeout_ms, max_connection_age_ms,
      max_connection_age_grace_ms;
  bool admin_enabled;
  std::string admin_token;
  // name -> token: admin.token as "admin", then each of admin.tokens read from its file.
  std::map<std::string, std::string> admin_tokens;
  std::string admin_audit_log;
  absl::Duration previous_grace;
};

// configs/server.yaml as this binary was built with it (--print-default-config).
const char* DefaultServerConfigYaml();
// The defaults, parsed (the config with no file and no overrides).
const ServerConfig& DefaultServerConfig();

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path,
                                              const std::vector<std::string>& overrides);

}  // namespace arginator::server
