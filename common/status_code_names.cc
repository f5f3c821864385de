#include "common/status_code_names.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace arginator {
namespace {

constexpr const char* kNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};
constexpr int kCodes = sizeof(kNames) / sizeof(kNames[0]);

}  // namespace

std::string StatusCodeName(absl::StatusCode code) {
  const int c = static_cast<int>(code);
  return c >= 0 && c < kCodes ? kNames[c] : absl::StrCat("CODE_", c);
}

std::string GoStatusCodeName(int code) {
  if (code < 0 || code >= kCodes) return absl::StrCat("Code(", code, ")");
  if (code == static_cast<int>(absl::StatusCode::kOk)) return "OK";
  if (code == static_cast<int>(absl::StatusCode::kCancelled)) return "Canceled";  // Go's spelling
  std::string name;
  bool upper = true;
  for (const char* p = kNames[code]; *p; ++p) {
    if (*p == '_') {
      upper = true;
      continue;
    }
    name += upper ? *p : static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    upper = false;
  }
  return name;
}

}  // namespace arginator
