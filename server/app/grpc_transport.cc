#include "server/app/grpc_transport.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"

namespace arginator::server {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const ServerConfig& c) {
  if (c.tls_cert.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadFileToString(c.tls_cert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFileToString(c.tls_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      c.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!c.tls_client_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadFileToString(c.tls_client_ca);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

const char* TransportSecurityName(const ServerConfig& c) {
  if (c.tls_cert.empty()) return "plaintext";
  return c.tls_client_ca.empty() ? "TLS" : "mutual TLS";
}

std::vector<std::pair<std::string, int>> GrpcChannelArguments(const ServerConfig& c) {
  // The config bounds these to ~24 days in milliseconds, within int.
  return {
      {GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(c.keepalive_time_ms)},
      {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(c.keepalive_timeout_ms)},
      {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
      // Clients' keepalive pings as often as every 5 s are welcome (ghz and arginator-loadgen's
      // --keepalive), not a reason for GOAWAY too_many_pings.
      {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000},
      {GRPC_ARG_MAX_CONNECTION_AGE_MS, static_cast<int>(c.max_connection_age_ms)},
      {GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, static_cast<int>(c.max_connection_age_grace_ms)},
      // gRPC binds with SO_REUSEPORT by default on Linux: a second server on a port in use
      // started "fine" and took a share of its connections. A busy port is an error instead.
      {GRPC_ARG_ALLOW_REUSEPORT, 0},
  };
}

int MaxReceiveMessageBytes(const ServerConfig& c) {
  // The config bounds this to 1 GB + 1 MB, within int.
  return static_cast<int>(c.max_embeddings_per_request * (c.max_input_dim * 4 + 1024) + (1 << 20));
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const ServerConfig& config, const std::vector<grpc::Service*>& services, int* bound_port) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      GrpcServerCredentials(config);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat(config.host, ":", config.port);
  *bound_port = 0;
  builder.AddListeningPort(address, *credentials, bound_port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(MaxReceiveMessageBytes(config));
  builder.SetMaxSendMessageSize(kMaxSendMessageBytes);
  for (const auto& [name, value] : GrpcChannelArguments(config)) {
    builder.AddChannelArgument(name, value);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || *bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return server;
}

}  // namespace arginator::server
