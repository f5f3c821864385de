#include "server/app/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <map>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

TEST(GrpcTransportTest, ChannelArgumentsComeFromTheKeepaliveSection) {
  auto config = LoadServerConfig(
      "", {"keepalive.time_s=7", "keepalive.timeout_s=0.5", "keepalive.max_connection_age_s=60",
           "keepalive.max_connection_age_grace_s=2"});
  ASSERT_TRUE(config.ok()) << config.status();
  std::map<std::string, int> args;
  for (const auto& [name, value] : GrpcChannelArguments(*config)) args[name] = value;
  EXPECT_EQ(args.at(GRPC_ARG_KEEPALIVE_TIME_MS), 7000);
  EXPECT_EQ(args.at(GRPC_ARG_KEEPALIVE_TIMEOUT_MS), 500);
  EXPECT_EQ(args.at(GRPC_ARG_MAX_CONNECTION_AGE_MS), 60000);
  EXPECT_EQ(args.at(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS), 2000);
  EXPECT_EQ(args.at(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS), 1);
  EXPECT_EQ(args.at(GRPC_ARG_ALLOW_REUSEPORT), 0);
}

TEST(GrpcTransportTest, SecurityFollowsTheTlsSection) {
  ServerConfig c = DefaultServerConfig();
  EXPECT_STREQ(TransportSecurityName(c), "plaintext");
  c.tls_cert = "/nonexistent/cert.pem";
  c.tls_key = "/nonexistent/key.pem";
  EXPECT_STREQ(TransportSecurityName(c), "TLS");
  c.tls_client_ca = "/nonexistent/ca.pem";
  EXPECT_STREQ(TransportSecurityName(c), "mutual TLS");
  auto credentials = GrpcServerCredentials(c);
  ASSERT_FALSE(credentials.ok());
  EXPECT_THAT(credentials.status().message(), HasSubstr("/nonexistent/cert.pem"));
  int port = -1;
  auto server = StartGrpcServer(c, {}, &port);
  ASSERT_FALSE(server.ok()) << "a server must not start without its certificate";
  EXPECT_THAT(server.status().message(), HasSubstr("/nonexistent/cert.pem"));
}

TEST(GrpcTransportTest, StartsOnAFreePortWithHealthAndRefusesABusyOne) {
  ServerConfig c = DefaultServerConfig();
  c.host = "127.0.0.1";
  c.port = 0;
  int port = 0;
  auto server = StartGrpcServer(c, {}, &port);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT(port, 0);
  (*server)->GetHealthCheckService()->SetServingStatus("", true);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(stub->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // Found writing this test: with gRPC's default SO_REUSEPORT a second server on the same port
  // started and silently shared it.
  c.port = port;  // taken
  int second = -1;
  auto busy = StartGrpcServer(c, {}, &second);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(busy.status().message(),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port)));
  (*server)->Shutdown();
}

}  // namespace
}  // namespace arginator::server
