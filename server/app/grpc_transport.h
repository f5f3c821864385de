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

// Receive and send limits: bulk Classify requests of 4,096 x 1,024 floats are ~16 MB.
inline constexpr int kMaxReceiveMessageBytes = 256 << 20;
inline constexpr int kMaxSendMessageBytes = 64 << 20;

// The channel arguments the server's transport takes from the config (GRPC_ARG_* name, value).
std::vector<std::pair<std::string, int>> GrpcChannelArguments(const ServerConfig& config);

// Builds and starts the gRPC server on server.host:server.port with `services` (which outlive
// it) and the default health and reflection services; UNAVAILABLE naming the address when it
// cannot listen. `bound_port` receives the port (server.port 0 picks a free one).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(
    const ServerConfig& config, const std::vector<grpc::Service*>& services, int* bound_port);

}  // namespace arginator::server
