#pragma once

#include <istream>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/loadgen/load_generator.h"
#include "client/loadgen/load_report.h"

namespace arginator::client {

// A Go duration ("500ms", "10s", "1m30s", "1.5h", "300µs", "0"), as ghz's flags take them; a
// bare number is seconds (what this tool took before). Negative durations are errors.
absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& text);

// What one arginator-loadgen invocation does.
struct LoadgenCommand {
  LoadOptions load;
  ReportMeta meta;  // name, tags and the options as ghz's report echoes them
  ReportFormat format = ReportFormat::kSummary;
  std::string output;       // -o; empty = standard output
  std::string write_frame;  // --write-frame: write the first request as a gRPC frame and exit
};

// Parses a command line with ghz's flags, defaults and precedence (-z wins over -n; -x caps -n;
// TLS unless --insecure; -d/-D JSON or -b/-B binary requests, `-d @` and -b reading `in`), plus
// this tool's own long options (--model, --label, --batch, ...). Returns the command, or the
// exit status to end with now: 0 after --help or --version, 2 after a usage error, which is
// printed to stderr naming the flag.
std::variant<LoadgenCommand, int> ParseCommandLine(int argc, const char* const* argv,
                                                   std::istream& in);

}  // namespace arginator::client
