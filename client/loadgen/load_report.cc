// LoadReport's figures and ghz's formats of it.
#include "client/loadgen/load_report.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/results_writer.h"
#include "common/status_code_names.h"

namespace arginator::client {

double LoadReport::rps() const {
  const double s = absl::ToDoubleSeconds(total);
  return s > 0 ? count / s : 0;
}

double LoadReport::embeddings_per_second() const {
  const double s = absl::ToDoubleSeconds(total);
  return s > 0 ? embeddings / s : 0;
}

namespace {

constexpr int kPercentiles[] = {10, 25, 50, 75, 90, 95, 99};  // ghz's
constexpr int kHistogramBuckets = 10;                         // ghz's: 11 marks

struct Bucket {
  double mark_s;  // upper bound, seconds
  int64_t count;
  double frequency;  // count / counted requests
};

// ghz's histogram: marks fastest + i * (slowest - fastest) / 10 for i < 10, then slowest; each
// latency counts in the first bucket whose mark it does not exceed.
std::vector<Bucket> Histogram(const LatencyHistogram& h) {
  std::vector<Bucket> buckets;
  if (h.count() == 0) return buckets;
  const double fastest = h.min() / 1e9, slowest = h.max() / 1e9;
  const double width = (slowest - fastest) / kHistogramBuckets;
  for (int i = 0; i < kHistogramBuckets; ++i) buckets.push_back({fastest + width * i, 0, 0});
  buckets.push_back({slowest, 0, 0});
  size_t b = 0;
  h.ForEachBucket([&](int64_t ns, int64_t n) {
    while (b + 1 < buckets.size() && ns / 1e9 > buckets[b].mark_s) ++b;
    buckets[b].count += n;
  });
  for (Bucket& bucket : buckets) bucket.frequency = static_cast<double>(bucket.count) / h.count();
  return buckets;
}

// Go's time.RFC3339 (ghz's `date`) and RFC3339Nano (a detail's `timestamp`) of a UTC time: "Z",
// and no trailing zeros in the fraction.
constexpr char kRfc3339[] = "%Y-%m-%d%ET%H:%M:%SZ";
constexpr char kRfc3339Nano[] = "%Y-%m-%d%ET%H:%M:%E*SZ";

std::string Rfc3339(absl::Time t, const char* format = kRfc3339) {
  return absl::FormatTime(format, t, absl::UTCTimeZone());
}

// ghz's formatNanoUnit: the largest unit that keeps the figure >= 1, two decimals.
std::string WithUnit(int64_t ns) {
  if (ns < 1000) return absl::StrCat(ns, " ns");
  if (ns < 1000000) return absl::StrFormat("%.2f μs", ns / 1e3);
  if (ns < 1000000000) return absl::StrFormat("%.2f ms", ns / 1e6);
  return absl::StrFormat("%.2f s", ns / 1e9);
}

int64_t ErrorCount(const LoadReport& r) {
  int64_t n = 0;
  for (const auto& [error, count] : r.errors) n += count;
  return n;
}

std::string Summary(const LoadReport& r, const ReportMeta& meta) {
  std::string out = "\nSummary:\n";
  if (!meta.name.empty()) absl::StrAppend(&out, "  Name:\t\t", meta.name, "\n");
  absl::StrAppend(&out, "  Count:\t", r.count, "\n  Total:\t",
                  WithUnit(absl::ToInt64Nanoseconds(r.total)), "\n  Slowest:\t",
                  WithUnit(r.latencies.max()), "\n  Fastest:\t", WithUnit(r.latencies.min()),
                  "\n  Average:\t", WithUnit(r.average_ns),
                  absl::StrFormat("\n  Requests/sec:\t%.2f\n  Embeddings/sec:\t%.2f\n\n", r.rps(),
                                  r.embeddings_per_second()),
                  "Response time histogram:\n");
  const std::vector<Bucket> buckets = Histogram(r.latencies);
  int64_t most = 0;
  for (const Bucket& b : buckets) most = std::max(most, b.count);
  for (const Bucket& b : buckets) {
    const int64_t bar = most > 0 ? (b.count * 40 + most / 2) / most : 0;
    std::string bars;
    for (int64_t i = 0; i < bar; ++i) bars += "∎";
    absl::StrAppend(&out, absl::StrFormat("  %.3f [%d]\t|%s\n", b.mark_s * 1000, b.count, bars));
  }
  absl::StrAppend(&out, "\nLatency distribution:\n");
  if (r.latencies.count() > 0) {
    for (int p : kPercentiles) {
      absl::StrAppend(&out, "  ", p, " % in ", WithUnit(r.latencies.Percentile(p)), " \n");
    }
  }
  absl::StrAppend(&out, "\nStatus code distribution:\n");
  for (const auto& [code, n] : r.status_codes) {
    absl::StrAppend(&out, absl::StrFormat("  [%s]   %d responses   \n", code, n));
  }
  if (!r.errors.empty()) {
    absl::StrAppend(&out, "\nError distribution:\n");
    for (const auto& [error, n] : r.errors) {
      absl::StrAppend(&out, absl::StrFormat("  [%d]   %s   \n", n, error));
    }
  }
  return out;
}

std::string Csv(const LoadReport& r) {
  std::string out = "duration (ms),status,error,timestamp\n";
  for (const Detail& d : r.details) {
    absl::StrAppend(&out, absl::StrFormat("%.2f", d.latency_ns / 1e6), ",",
                    GoStatusCodeName(static_cast<int>(d.code)), ",", CsvField(d.error), ",",
                    Rfc3339(d.done, kRfc3339Nano), "\n");
  }
  return out;
}

// Prometheus text format: a label value with \, " and newlines escaped.
std::string PromValue(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

std::string Prometheus(const LoadReport& r, const ReportMeta& meta) {
  // ghz's labels: name, end_reason, and every scalar option of the report as a string (names
  // with '-' made valid Prometheus label names).
  std::vector<std::string> labels = {absl::StrCat("name=\"", PromValue(meta.name), "\""),
                                     absl::StrCat("end_reason=\"", r.end_reason, "\"")};
  for (const auto& [key, value] : meta.options.items()) {
    if (value.is_structured()) continue;
    std::string label = absl::StrReplaceAll(key, {{"-", "_"}});
    if (label == "name") continue;
    labels.push_back(
        absl::StrCat(label, "=\"",
                     PromValue(value.is_string() ? value.get<std::string>() : value.dump()), "\""));
  }
  const std::string set = absl::StrCat("{", absl::StrJoin(labels, ","), "}");
  std::string out;
  auto gauge = [&](const char* name, const char* help, double v) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n", name, set, " ",
                    absl::StrFormat("%.17g", v), "\n");
  };
  gauge("ghz_run_count", "Requests recorded.", r.count);
  gauge("ghz_run_total", "Duration of the run, nanoseconds.", absl::ToInt64Nanoseconds(r.total));
  gauge("ghz_run_average", "Mean latency of every request, nanoseconds.", r.average_ns);
  gauge("ghz_run_fastest", "Fastest counted request, nanoseconds.", r.latencies.min());
  gauge("ghz_run_slowest", "Slowest counted request, nanoseconds.", r.latencies.max());
  gauge("ghz_run_rps", "Requests per second.", r.rps());
  // Buckets by the histogram's marks (seconds), cumulative as the format requires.
  const std::string with_le = absl::StrCat("{", absl::StrJoin(labels, ","), ",le=\"");
  absl::StrAppend(&out,
                  "# HELP ghz_run_histogram Counted requests by latency (le in seconds, sum in "
                  "nanoseconds).\n# TYPE ghz_run_histogram histogram\n");
  int64_t cumulative = 0;
  for (const Bucket& b : Histogram(r.latencies)) {
    cumulative += b.count;
    absl::StrAppend(&out, "ghz_run_histogram_bucket", with_le, absl::StrFormat("%.9g", b.mark_s),
                    "\"} ", cumulative, "\n");
  }
  absl::StrAppend(&out, "ghz_run_histogram_bucket", with_le, "+Inf\"} ", r.latencies.count(), "\n",
                  "ghz_run_histogram_sum", set, " ", r.latencies.mean() * r.latencies.count(),
                  "\nghz_run_histogram_count", set, " ", r.latencies.count(), "\n");
  absl::StrAppend(&out,
                  "# HELP ghz_run_latency Latency percentiles of the counted requests, "
                  "nanoseconds.\n# TYPE ghz_run_latency summary\n");
  const std::string with_q = absl::StrCat("{", absl::StrJoin(labels, ","), ",quantile=\"");
  if (r.latencies.count() > 0) {
    for (int p : kPercentiles) {
      absl::StrAppend(&out, "ghz_run_latency", with_q, absl::StrFormat("%g", p / 100.0), "\"} ",
                      r.latencies.Percentile(p), "\n");
    }
  }
  absl::StrAppend(&out, "ghz_run_latency_sum", set, " ", r.latencies.mean() * r.latencies.count(),
                  "\nghz_run_latency_count", set, " ", r.latencies.count(), "\n");
  gauge("ghz_run_errors", "Requests that failed.", ErrorCount(r));
  return out;
}

// InfluxDB line protocol: spaces, commas and equals signs escaped in tag values.
std::string InfluxEscape(const std::string& v) {
  return absl::StrReplaceAll(v, {{" ", "\\ "}, {",", "\\,"}, {"=", "\\="}});
}

// A JSON value as ghz's influx tags carry it: the JSON text as a quoted JSON string, escaped.
std::string InfluxJsonTag(const nlohmann::json& v) {
  return InfluxEscape(v.is_null() ? "\"\"" : nlohmann::json(v.dump()).dump());
}

std::string InfluxTags(const LoadReport& r, const ReportMeta& meta, bool with_errors) {
  const nlohmann::json& o = meta.options;
  std::vector<std::string> tags;
  if (!meta.name.empty()) tags.push_back(absl::StrCat("name=\"", InfluxEscape(meta.name), "\""));
  if (o.contains("proto"))
    tags.push_back(absl::StrCat("proto=\"", o["proto"].get<std::string>(), "\""));
  tags.push_back(absl::StrCat("call=\"", o.value("call", ""), "\""));
  tags.push_back(absl::StrCat("host=\"", o.value("host", ""), "\""));
  tags.push_back(absl::StrCat("n=", o.value("total", 0)));
  tags.push_back(absl::StrCat("c=", o.value("concurrency", 0)));
  tags.push_back(absl::StrCat("rps=", o.value("rps", 0)));
  tags.push_back(absl::StrCat("z=", o.value("duration", int64_t{0})));
  tags.push_back(absl::StrCat("timeout=", o.value("timeout", int64_t{0}) / 1e9));
  tags.push_back(absl::StrCat("dial_timeout=", o.value("dial-timeout", int64_t{0}) / 1e9));
  tags.push_back(absl::StrCat("keepalive=", o.value("keepalive", int64_t{0}) / 1e9));
  tags.push_back(absl::StrCat("data=", InfluxJsonTag(o.value("data", nlohmann::json()))));
  tags.push_back(absl::StrCat("metadata=", InfluxJsonTag(o.value("metadata", nlohmann::json()))));
  tags.push_back(absl::StrCat(
      "tags=", InfluxJsonTag(meta.tags.empty() ? nlohmann::json() : nlohmann::json(meta.tags))));
  if (with_errors) {
    const int64_t errors = ErrorCount(r);
    tags.push_back(absl::StrCat("errors=", errors, ",has_errors=", errors > 0 ? "true" : "false"));
  }
  return absl::StrJoin(tags, ",");
}

std::string InfluxSummary(const LoadReport& r, const ReportMeta& meta) {
  std::string fields =
      absl::StrCat("count=", r.count, ",total=", absl::ToInt64Nanoseconds(r.total),
                   ",average=", r.average_ns, ",fastest=", r.latencies.min(),
                   ",slowest=", r.latencies.max(), absl::StrFormat(",rps=%4.2f", r.rps()));
  if (r.latencies.count() > 0) {
    absl::StrAppend(&fields, ",median=", r.latencies.Percentile(50),
                    ",p95=", r.latencies.Percentile(95));
  }
  absl::StrAppend(&fields, ",errors=", ErrorCount(r));
  return absl::StrCat("ghz_run,", InfluxTags(r, meta, true), " ", fields, " ",
                      absl::ToUnixNanos(r.date), "\n");
}

std::string InfluxDetails(const LoadReport& r, const ReportMeta& meta) {
  const std::string tags = InfluxTags(r, meta, false);
  std::string out;
  for (const Detail& d : r.details) {
    // Field strings are double-quoted: escape backslashes and quotes.
    const std::string error = absl::StrReplaceAll(d.error, {{"\\", "\\\\"}, {"\"", "\\\""}});
    absl::StrAppend(&out, "ghz_detail,", tags, ",hasError=", d.error.empty() ? "false" : "true",
                    " latency=", d.latency_ns, ",error=\"", error, "\",status=\"",
                    GoStatusCodeName(static_cast<int>(d.code)), "\" ", absl::ToUnixNanos(d.done),
                    "\n");
  }
  return out;
}

}  // namespace

absl::StatusOr<ReportFormat> ParseReportFormat(const std::string& name) {
  static const std::map<std::string, ReportFormat> kFormats = {
      {"summary", ReportFormat::kSummary},
      {"csv", ReportFormat::kCsv},
      {"json", ReportFormat::kJson},
      {"pretty", ReportFormat::kPretty},
      {"prometheus", ReportFormat::kPrometheus},
      {"influx-summary", ReportFormat::kInfluxSummary},
      {"influx-details", ReportFormat::kInfluxDetails}};
  auto it = kFormats.find(name);
  if (it != kFormats.end()) return it->second;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown format '", name,
      "': one of summary, csv, json, pretty, prometheus, influx-summary, influx-details"));
}

bool ListsRequests(ReportFormat format) {
  return format == ReportFormat::kCsv || format == ReportFormat::kInfluxDetails;
}

nlohmann::json GhzJson(const LoadReport& r, const ReportMeta& meta) {
  nlohmann::json out = {{"date", Rfc3339(r.date)},
                        {"endReason", r.end_reason},
                        {"options", meta.options},
                        {"count", r.count},
                        {"total", absl::ToInt64Nanoseconds(r.total)},
                        {"average", r.average_ns},
                        {"fastest", r.latencies.min()},
                        {"slowest", r.latencies.max()},
                        {"rps", r.rps()},
                        {"errorDistribution", r.errors},
                        {"statusCodeDistribution", r.status_codes},
                        {"latencyDistribution", nullptr},
                        {"histogram", nullptr},
                        {"details", nullptr},
                        {"embeddingsPerSecond", r.embeddings_per_second()}};
  if (!meta.name.empty()) out["name"] = meta.name;
  if (!meta.tags.empty()) out["tags"] = meta.tags;
  if (r.latencies.count() > 0) {
    for (int p : kPercentiles) {
      out["latencyDistribution"].push_back(
          {{"percentage", p}, {"latency", r.latencies.Percentile(p)}});
    }
    for (const Bucket& b : Histogram(r.latencies)) {
      out["histogram"].push_back(
          {{"mark", b.mark_s}, {"count", b.count}, {"frequency", b.frequency}});
    }
  }
  for (const Detail& d : r.details) {
    out["details"].push_back({{"timestamp", Rfc3339(d.done, kRfc3339Nano)},
                              {"latency", d.latency_ns},
                              {"error", d.error},
                              {"status", GoStatusCodeName(static_cast<int>(d.code))}});
  }
  return out;
}

std::string FormatReport(const LoadReport& r, const ReportMeta& meta, ReportFormat format) {
  switch (format) {
    case ReportFormat::kSummary:
      return Summary(r, meta);
    case ReportFormat::kCsv:
      return Csv(r);
    case ReportFormat::kJson:
      return GhzJson(r, meta).dump() + "\n";
    case ReportFormat::kPretty:
      return GhzJson(r, meta).dump(2) + "\n";
    case ReportFormat::kPrometheus:
      return Prometheus(r, meta);
    case ReportFormat::kInfluxSummary:
      return InfluxSummary(r, meta);
    case ReportFormat::kInfluxDetails:
      return InfluxDetails(r, meta);
  }
  return "";
}

}  // namespace arginator::client
