// The transport ceiling: the same gRPC stack, service and payloads as arginator-server, but a
// handler that does no model work: it answers each embedding with a fixed prediction at once.
// Usage: arginator-noop-server [--port 50052]   (prints "listening on HOST:PORT")
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <iostream>

#include "CLI/CLI.hpp"
#include "arginator/v1/classifier.grpc.pb.h"
#include "common/mutex_mode.h"

namespace {

class NoopClassifier final : public arginator::v1::Classifier::CallbackService {
  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const arginator::v1::ClassifyRequest* request,
                                     arginator::v1::ClassifyResponse* response) override {
    const int n = request->embeddings_size() > 0
                      ? request->embeddings_size()
                      : static_cast<int>(request->packed_values().size() / (1024 * sizeof(float)));
    response->set_model_name(request->model().name());
    response->set_model_version(1);
    response->mutable_predictions()->Reserve(n);
    for (int i = 0; i < n; ++i) {
      auto* p = response->add_predictions();
      p->set_label("non_betalactamase");
      p->set_score(1.0f);
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  arginator::DisableMutexDeadlockDetection();
  CLI::App app{"arginator-noop-server: transport-ceiling server for benchmarks"};
  int port = 0;
  app.add_option("--port", port, "port, 0 = any free");
  CLI11_PARSE(app, argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  NoopClassifier service;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(256 << 20);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  std::cerr << "arginator-noop-server: listening on 127.0.0.1:" << bound << std::endl;
  int sig;
  sigwait(&signals, &sig);
  server->Shutdown();
  return 0;
}
