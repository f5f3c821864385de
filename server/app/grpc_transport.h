#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/server_config.h"

namespace grpc {
class Server;
class ServerBuilder;
class ServerCredentials;
class Service;
}  // namespace grpc

namespace arginator::server {

// The gRPC transport arginator-server listens with: credentials from the tls section, message
// size limits for bulk requests, keepalive and connection-age settings from the keepalive
// section.

// Plaintext when tls.cert is empty, TLS with it, mutual TLS with tls.client_ca too. A PEM file
// that cannot be read is an error naming it.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const ServerConfig& config);
// "plaintext", "TLS" or "mutual TLS", for the log.
const char* TransportSecurityName(const ServerConfig& config);

// The largest message received, on every service: what the largest legal request can take,
// server.max_embeddings_per_request rows of server.max_input_dim floats with 1 KB per row for its
// id and framing, plus 1 MB. gRPC refuses a larger one (RESOURCE_EXHAUSTED) as it reads or
// inflates it, so a small gzip bomb never grows past this.
int MaxReceiveMessageBytes(const ServerConfig& config);
inline constexpr int kMaxSendMessageBytes = 64 << 20;

// The channel arguments the server's transport takes from the config (GRPC_ARG_* name, value).
std::vector<std::pair<std::string, int>> GrpcChannelArguments(const ServerConfig& config);

// Builds and starts the gRPC server on server.host:server.port with `services` (which outlive
// it) and the default health and reflection services; UNAVAILABLE naming the address when it
// cannot listen. `bound_port` receives the port (server.port 0 picks a free one).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const ServerConfig& config, const std::vector<grpc::Service*>& services, int* bound_port);

}  // namespace arginator::server
