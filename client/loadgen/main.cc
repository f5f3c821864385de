// arginator-loadgen: a ghz-style load generator for arginator.v1.Classifier (Classify, and
// ClassifyStream with --stream).
#include <iostream>

#include "CLI/CLI.hpp"
#include "client/loadgen/load_generator.h"
#include "client/loadgen/request_payloads.h"
#include "common/mutex_mode.h"

int main(int argc, char** argv) {
  arginator::DisableMutexDeadlockDetection();
  using namespace arginator::client;
  CLI::App app{"arginator-loadgen: load-test an arginator-server (in the spirit of ghz)"};
  LoadOptions o;
  double duration_s = 10, warmup_s = 0, timeout_s = 20;
  int64_t version = 0;
  std::string label, format = "text", frame;
  app.add_option("--target", o.client.target, "server host:port")->capture_default_str();
  app.add_option("--model", o.model.name, "model name")->required();
  app.add_option("--version", version, "exact version");
  app.add_option("--label", label, "version label");
  app.add_option("--concurrency,-c", o.concurrency, "requests in flight, over all connections")
      ->capture_default_str();
  app.add_option("--connections", o.connections, "HTTP/2 connections")->capture_default_str();
  app.add_option("--threads", o.threads,
                 "worker threads, each driving its share of the requests asynchronously; "
                 "0 = one per connection, at most the cores")
      ->capture_default_str();
  app.add_option("--duration,-z", duration_s, "seconds to measure (after --warmup)")
      ->capture_default_str();
  app.add_option("--total,-n", o.total, "measured requests (instead of --duration)");
  app.add_option("--rps", o.rps, "open loop at this rate (requests/s); 0 = closed loop");
  app.add_option("--batch,-b", o.batch, "embeddings per request")->capture_default_str();
  app.add_flag("--packed", o.packed, "send packed_values (float32 bytes) instead of floats");
  app.add_flag("--stream", o.stream,
               "call ClassifyStream: one stream per slot of -c, each request a message on it");
  app.add_option("--warmup", warmup_s, "seconds of unrecorded warm-up");
  app.add_option("--timeout", timeout_s, "per-request deadline in seconds")->capture_default_str();
  app.add_option("--input", o.input, "embeddings file (.h5/.csv/.npy); default synthetic rows");
  app.add_option("--format", format, "text or json (ghz's JSON summary fields)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--write-frame", frame,
                 "write the first request as one gRPC length-prefixed message to this file and "
                 "exit (the body for h2load -d)");
  app.add_flag("--tls", o.client.tls, "use TLS");
  app.add_option("--ca-cert", o.client.ca_cert, "PEM CA certificate (implies --tls)");
  app.add_option("--cert", o.client.client_cert, "PEM client certificate (mutual TLS)");
  app.add_option("--key", o.client.client_key, "PEM client key (mutual TLS)");
  CLI11_PARSE(app, argc, argv);
  o.duration = absl::Seconds(duration_s);
  o.warmup = absl::Seconds(warmup_s);
  o.timeout = absl::Seconds(timeout_s);
  if (!o.client.ca_cert.empty() || !o.client.client_cert.empty()) o.client.tls = true;
  if (version > 0) o.model.version = version;
  if (!label.empty()) o.model.label = label;
  if (o.total > 0) o.duration = absl::ZeroDuration();

  if (!frame.empty()) {
    if (absl::Status s = WriteRequestFrame(o, frame); !s.ok()) {
      std::cerr << "arginator-loadgen: error: " << s.message() << std::endl;
      return 2;
    }
    return 0;
  }
  auto report = RunLoad(o);
  if (!report.ok()) {
    std::cerr << "arginator-loadgen: error: " << report.status().message() << std::endl;
    return 2;
  }
  if (format == "json") {
    std::cout << FormatJson(*report).dump(2) << std::endl;
  } else {
    std::cout << FormatText(*report);
  }
  return 0;
}
