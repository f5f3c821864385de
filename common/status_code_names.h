#pragma once

#include <string>

#include "absl/status/status.h"

namespace arginator {

// The one table of status code names, for the server (metrics' `code` label, logs) and the
// clients (arginator-loadgen's ghz reports).

// As gRPC's spec and Prometheus conventions spell them: "INVALID_ARGUMENT"; an unknown code is
// "CODE_<n>".
std::string StatusCodeName(absl::StatusCode code);
// As Go's grpc-go (and so ghz) spells them: "InvalidArgument", "Canceled"; an unknown code is
// "Code(<n>)".
std::string GoStatusCodeName(int code);

}  // namespace arginator
