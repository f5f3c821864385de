#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "client/loadgen/load_generator.h"
#include "nlohmann/json.hpp"

namespace arginator::client {

// What ghz's report carries beside the figures: the run's name and tags, and its options as
// ghz's JSON spells them (ghz_command_line.h builds them from the command line).
struct ReportMeta {
  std::string name;
  std::map<std::string, std::string> tags;
  nlohmann::json options = nlohmann::json::object();
};

// ghz's output formats (-O), but html.
enum class ReportFormat {
  kSummary,
  kCsv,
  kJson,
  kPretty,
  kPrometheus,
  kInfluxSummary,
  kInfluxDetails
};

absl::StatusOr<ReportFormat> ParseReportFormat(const std::string& name);
// csv and influx-details list every request: the run must keep LoadOptions::details.
bool ListsRequests(ReportFormat format);

// ghz's JSON report (runner/reporter.go's Report, field for field: durations in nanoseconds,
// histogram marks in seconds, Go's code names, grpc-go's error strings; `details` is null unless
// the run kept them), plus `embeddingsPerSecond`.
nlohmann::json GhzJson(const LoadReport& report, const ReportMeta& meta);

// The report in `format`, as ghz prints it (the CSV quoted as RFC 4180, which ghz's is not).
std::string FormatReport(const LoadReport& report, const ReportMeta& meta, ReportFormat format);

}  // namespace arginator::client
