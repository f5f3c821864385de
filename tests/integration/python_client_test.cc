// The Python client (client/python/arginator_client) against the real server, with the C++
// arginator-client as its reference: tests/integration/python_client_test.py runs both and
// checks one group of behaviours per test; this file starts the server each group needs.
#include "gmock/gmock.h"
#include "tests/integration/served_models_fixture.h"
#include "tests/testing/certificates.h"

namespace arginator::testing {
namespace {

const std::string kCppClient = ARGINATOR_CLIENT_BIN;

class PythonClientTest : public ServedModelsTest {
 protected:
  // Runs the script's `group` against the running server, in a scratch directory of its own.
  CommandResult RunGroup(const std::string& group, const std::string& extra = "") {
    fs::create_directories(work_.Join("py-" + group));
    return RunCommand("/usr/bin/python3 " + kSource + "/tests/integration/python_client_test.py " +
                      group + " --source " + kSource + " --stubs " + ARGINATOR_PYTHON_STUBS +
                      " --target " + server_->target() + " --cpp-client " + kCppClient +
                      " --data " + shared_->Join("data") + " --work " + work_.Join("py-" + group) +
                      " --metrics http://127.0.0.1:" + std::to_string(server_->metrics_port()) +
                      " " + extra);
  }

  // A server on the private repository with TLS from `certs`; mutual TLS asks for client
  // certificates signed by the same CA. Returns once it answers a health check over TLS.
  void StartTlsServer(const std::string& certs, bool mutual) {
    std::vector<std::string> args = {
        "--model-repository", work_.Join("models"), "--port", "0", "--metrics-port", "-1", "--host",
        "127.0.0.1"};
    args.insert(args.end(), {"--set", "tls.cert=" + certs + "/server.pem", "--set",
                             "tls.key=" + certs + "/server.key"});
    if (mutual) args.insert(args.end(), {"--set", "tls.client_ca=" + certs + "/ca.pem"});
    std::string log;
    server_ = ServerProcess::Start(kServer, args, work_.Join("tls.log"), &log);
    ASSERT_NE(server_, nullptr) << log;
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *ReadFileToString(certs + "/ca.pem");
    if (mutual) {
      ssl.pem_cert_chain = *ReadFileToString(certs + "/client.pem");
      ssl.pem_private_key = *ReadFileToString(certs + "/client.key");
    }
    channel_ = grpc::CreateChannel(server_->target(), grpc::SslCredentials(ssl));
    ASSERT_TRUE(WaitFor([&] {
      return Health("") == grpc::health::v1::HealthCheckResponse::SERVING;
    })) << server_->Log();
  }
};

// The same bytes as the C++ client for CSV and JSONL, every input format, both models, ids that
// need RFC 4180 quoting, --no-probabilities, stdout through "-", unary and stream; the same
// summary counts and the same models/metadata/health output. One stream request in flight, so
// the server batches exactly the rows each request carries: a forward over other batch sizes
// may differ in the last bits of a float, and %.6g shows some of them.
TEST_F(PythonClientTest, WritesTheCppClientsBytesInEveryFormatAndMode) {
  StartServer({"--set", "server.stream_max_in_flight=1"});
  auto r = RunGroup("parity");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// Every bad input file (empty, group-nested, wrong shape or type, NaN/Inf, corrupt, missing,
// unknown extension), usage error and rejected request (unknown model, version or label) exits 2
// with the C++ client's one-line message and no traceback; an unreachable server exits 1.
TEST_F(PythonClientTest, InvalidInputExitsTwoWithOneCleanLineAndAnUnreachableServerOne) {
  StartServer();
  auto r = RunGroup("errors");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// import arginator_client: read_embeddings, Client.classify (the C++ client's labels),
// classify_stream, list_models, metadata, health, ArginatorError codes, retries with backoff.
TEST_F(PythonClientTest, TheModuleClassifiesFromPython) {
  StartServer();
  auto r = RunGroup("module");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// Version 2 is the default; the label "canary" (set through ModelAdmin) points at version 1:
// --label canary gets version 1 (unary, stream, metadata, the module), no selector version 2.
TEST_F(PythonClientTest, LabelSelectsTheLabelledVersion) {
  PublishEdited(kBinary, 1, 2, [](const std::string&, nlohmann::json&) {});
  StartServer({"--set", "admin.enabled=true", "--set", std::string("admin.token=") + kAdminToken});
  ASSERT_TRUE(WaitFor([&] { return VersionState(kBinary, 2).state() == v1::VersionStatus::READY; }))
      << server_->Log();
  grpc::Status s = AdminLoadVersion(kBinary, 1);  // the policy serves the latest version only
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(WaitFor([&] { return VersionState(kBinary, 1).state() == v1::VersionStatus::READY; }))
      << server_->Log();
  s = AdminSetLabel(kBinary, "canary", 1);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto r = RunGroup("label");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// TLS with a private CA (--ca-cert; --authority checked against the certificate; plaintext and
// the system's roots refused), then mutual TLS (--cert + --key; none refused; --cert alone is an
// input error), each with the same bytes as the C++ client.
TEST_F(PythonClientTest, TlsAndMutualTls) {
  const std::string certs = work_.Join("certs");
  fs::create_directories(certs);
  testing::MakeCertificates(certs);
  for (const bool mutual : {false, true}) {
    StartTlsServer(certs, mutual);
    if (HasFatalFailure()) return;
    auto r = RunGroup(mutual ? "mtls" : "tls", "--certs " + certs);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    server_->Stop();
  }
}

}  // namespace
}  // namespace arginator::testing
