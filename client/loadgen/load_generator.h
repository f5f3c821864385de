#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/arginator_client.h"
#include "client/loadgen/call_slot.h"
#include "client/loadgen/latency_histogram.h"
#include "nlohmann/json.hpp"

namespace arginator::client {

// One run of the load generator. The command line (ghz_command_line.h) fills it with ghz's
// meanings; the defaults here are ghz's.
struct LoadOptions {
  ClientOptions client;  // target, TLS, keepalive
  bool stream = false;   // ClassifyStream: one stream per slot, one message in flight on each
  int concurrency = 50;  // calls in flight at a time (slots), spread over the connections
  int connections = 1;   // HTTP/2 connections
  int threads = 0;       // worker threads; 0 = one per connection, at most the machine's cores
  // When the run stops: after `duration` of measured time (ghz -z; it wins over `total`), else
  // after `total` measured requests (ghz -n), or at `max_duration` (ghz -x) if that comes first.
  absl::Duration duration = absl::ZeroDuration();
  int64_t total = 200;
  absl::Duration max_duration = absl::ZeroDuration();
  DurationStop duration_stop = DurationStop::kClose;
  double rps = 0;  // > 0: open loop at this constant rate; 0: closed loop
  absl::Duration warmup = absl::ZeroDuration();  // requests in this time are not recorded
  int64_t skip_first = 0;                        // results left out of the tally (ghz --skipFirst)
  bool count_errors = false;  // errored calls count in the latency statistics (ghz --count-errors)
  bool details = false;       // keep per-request rows (ghz's `details`, up to kMaxDetails)
  CallSettings call;          // metadata, gzip, per-request timeout
  absl::Duration connect_timeout = absl::Seconds(10);  // every connection up before the run
  const std::atomic<bool>* interrupt = nullptr;  // set (e.g. by SIGINT): stop, report what ran

  // The request: `messages` (serialized ClassifyRequests, from ghz's -d/-D/-b/-B, sent round
  // robin), or else `batch` rows of `input` (or synthetic ProtT5-like rows) for `model`.
  std::vector<std::string> messages;
  ModelSelector model;
  int batch = 1;        // embeddings per request
  bool packed = false;  // packed_values instead of repeated floats
  int evidence = 0;     // nearest references asked for per embedding (ClassifyRequest.evidence)
  std::string input;    // embeddings file; empty = synthetic rows
};

// ghz's maximum number of per-request rows in a report.
inline constexpr int64_t kMaxDetails = 1000000;

// What ghz reports (runner/reporter.go's Report), plus embeddings/s. Latencies in an open loop
// are measured from each request's intended send time, so a stalled server cannot hide the
// queueing it causes (no coordinated omission).
struct LoadReport {
  std::string end_reason;  // "normal" (total reached), "timeout" (-z/-x), "cancel" (interrupted)
  absl::Time date;         // when the report was made
  int64_t count = 0;       // recorded requests, every status
  int64_t embeddings = 0;  // in OK responses
  absl::Duration total;    // measured wall time
  int64_t average_ns = 0;  // over every recorded request, as ghz
  // The requests the latency statistics count (fastest, slowest, percentiles, histogram): the OK
  // ones, or all with count_errors.
  LatencyHistogram latencies;
  std::map<std::string, int64_t> status_codes;  // Go's code names: "OK", "NotFound", ...
  std::map<std::string, int64_t> errors;        // "rpc error: code = X desc = ..." -> count
  std::vector<Detail> details;                  // in completion order
  LoadOptions options;

  double rps() const;
  double embeddings_per_second() const;
};

// Runs the load and reports; errors are only for setup (bad input, bad options, a connection
// that does not come up within connect_timeout). Each worker thread owns a completion queue and
// drives the slots of its connections asynchronously: in a closed loop a slot starts its next
// request as soon as its answer arrives; in an open loop (rps > 0) a pacer thread starts each
// request at its scheduled time on a free slot.
absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace arginator::client
