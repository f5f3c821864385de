// LoadReport's figures and its text and JSON forms.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/loadgen/load_generator.h"

namespace arginator::client {

double LoadReport::rps() const {
  double s = absl::ToDoubleSeconds(total);
  return s > 0 ? count / s : 0;
}

double LoadReport::embeddings_per_second() const {
  double s = absl::ToDoubleSeconds(total);
  return s > 0 ? embeddings / s : 0;
}

int64_t LoadReport::Percentile(double p) const { return latencies.Percentile(p); }

namespace {

std::string Ms(int64_t ns) { return absl::StrFormat("%.3f ms", ns / 1e6); }

constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};

}  // namespace

std::string FormatText(const LoadReport& r) {
  const LoadOptions& o = r.options;
  std::string out = absl::StrFormat(
      "Summary:\n  Target:          %s, model %s\n  Load:            %s, concurrency %d, "
      "%d connection(s), batch %d (%s)%s\n",
      o.client.target, o.model.name,
      o.rps > 0 ? absl::StrFormat("open loop at %.0f req/s", o.rps) : "closed loop", o.concurrency,
      o.connections, o.batch, o.packed ? "packed" : "repeated floats",
      o.stream ? ", ClassifyStream (one stream per worker)" : "");
  absl::StrAppend(&out, absl::StrFormat("  Count:           %d\n", r.count),
                  absl::StrFormat("  Total:           %.2f s\n", absl::ToDoubleSeconds(r.total)),
                  "  Slowest:         ", Ms(r.latencies.max()),
                  "\n  Fastest:         ", Ms(r.latencies.min()),
                  "\n  Average:         ", Ms(r.latencies.mean()),
                  absl::StrFormat("\n  Requests/sec:    %.1f\n  Embeddings/sec:  %.1f\n\n", r.rps(),
                                  r.embeddings_per_second()),
                  "Latency distribution:\n");
  for (double p : kPercentiles) {
    absl::StrAppend(&out, absl::StrFormat("  %5.1f %% in %s\n", p, Ms(r.Percentile(p))));
  }
  absl::StrAppend(&out, "\nStatus code distribution:\n");
  for (const auto& [code, n] : r.status_codes) {
    absl::StrAppend(&out, absl::StrFormat("  [%s]   %d responses\n", code, n));
  }
  if (!r.errors.empty()) {
    absl::StrAppend(&out, "\nError distribution:\n");
    for (const auto& [message, n] : r.errors) {
      absl::StrAppend(&out, absl::StrFormat("  [%d]   %s\n", n, message));
    }
  }
  return out;
}

nlohmann::json FormatJson(const LoadReport& r) {
  nlohmann::json distribution = nlohmann::json::array();
  for (double p : kPercentiles) {
    distribution.push_back({{"percentage", p}, {"latency", r.Percentile(p)}});
  }
  const LoadOptions& o = r.options;
  return {{"date", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())},
          {"options",
           {{"host", o.client.target},
            {"call", o.stream ? "arginator.v1.Classifier.ClassifyStream"
                              : "arginator.v1.Classifier.Classify"},
            {"model", o.model.name},
            {"concurrency", o.concurrency},
            {"connections", o.connections},
            {"rps", o.rps},
            {"batch", o.batch},
            {"packed", o.packed}}},
          {"count", r.count},
          {"total", absl::ToInt64Nanoseconds(r.total)},
          {"average", r.latencies.mean()},
          {"fastest", r.latencies.min()},
          {"slowest", r.latencies.max()},
          {"rps", r.rps()},
          {"embeddingsPerSecond", r.embeddings_per_second()},
          {"latencyDistribution", distribution},
          {"statusCodeDistribution", r.status_codes},
          {"errorDistribution", r.errors}};
}

}  // namespace arginator::client
