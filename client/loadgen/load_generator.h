#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/arginator_client.h"
#include "client/loadgen/latency_histogram.h"
#include "nlohmann/json.hpp"

namespace arginator::client {

struct LoadOptions {
  ClientOptions client;  // target and TLS
  ModelSelector model;
  int concurrency = 16;  // calls in flight at a time (slots), spread over the connections
  int connections = 1;   // HTTP/2 connections, each driven by one worker thread
  int threads = 0;       // worker threads; 0 = one per connection, at most the machine's cores
  absl::Duration duration = absl::Seconds(10);  // measured time, after the warm-up
  int64_t total = 0;    // > 0: stop after this many measured requests instead
  double rps = 0;       // > 0: open loop at this constant rate; 0: closed loop
  int batch = 1;        // embeddings per request
  bool packed = false;  // packed_values instead of repeated floats
  bool stream = false;  // ClassifyStream: one stream per slot, one message in flight on each
  absl::Duration warmup = absl::ZeroDuration();  // requests in this time are not recorded
  absl::Duration timeout = absl::Seconds(20);    // per request (per stream: after the run's end)
  std::string input;  // embeddings file to send; empty = synthetic ProtT5-like rows
};

// What ghz reports, plus embeddings/s. Latencies in an open loop are measured from each request's
// intended send time, so a stalled server cannot hide the queueing it causes (no coordinated
// omission).
struct LoadReport {
  int64_t count = 0;                            // measured requests, every status
  int64_t embeddings = 0;                       // embeddings in OK responses
  absl::Duration total;                         // measured wall time
  LatencyHistogram latencies;                   // nanoseconds, every measured request
  std::map<std::string, int64_t> status_codes;  // "OK", "UNAVAILABLE", ...
  std::map<std::string, int64_t> errors;        // message -> count
  LoadOptions options;

  double rps() const;
  double embeddings_per_second() const;
  int64_t Percentile(double p) const;  // p in [0, 100], nanoseconds
};

// Runs the load and reports; errors are only for setup (bad input file, bad options). Each worker
// thread owns a completion queue and drives the slots of its connections asynchronously: in a
// closed loop a slot starts its next request as soon as its answer arrives; in an open loop
// (rps > 0) a pacer thread starts each request at its scheduled time on a free slot.
absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);

std::string FormatText(const LoadReport& report);
// ghz's JSON summary fields (count, total, average, fastest, slowest, rps, latencyDistribution,
// statusCodeDistribution, errorDistribution; durations in nanoseconds) plus embeddingsPerSecond.
nlohmann::json FormatJson(const LoadReport& report);

}  // namespace arginator::client
