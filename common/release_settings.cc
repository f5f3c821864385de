#include "common/release_settings.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "nlohmann/json.hpp"

namespace arginator {
namespace {

absl::StatusOr<double> Percent(const nlohmann::json& j, const char* key, double fallback,
                               const std::string& source) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0 ||
      it->get<double>() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", key, " must be a number from 0 to 100"));
  }
  return it->get<double>();
}

}  // namespace

absl::StatusOr<ReleaseSettings> ParseReleaseSettings(const std::string& text,
                                                     const std::string& source,
                                                     size_t max_label_bytes) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": not a JSON object such as {\"default_label\": \"stable\", \"canary_percent\": 10}"));
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "default_label" && key != "canary_percent" && key != "shadow_percent" &&
        key != "previous_until") {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": unknown field '", key,
          "' (fields: default_label, canary_percent, shadow_percent, previous_until)"));
    }
  }
  ReleaseSettings s;
  if (auto it = j.find("default_label"); it != j.end()) {
    if (!it->is_string() || it->get<std::string>().size() > max_label_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": default_label must be a string of at most ", max_label_bytes, " bytes"));
    }
    s.default_label = it->get<std::string>();
  }
  absl::StatusOr<double> canary = Percent(j, "canary_percent", 0, source);
  if (!canary.ok()) return canary.status();
  s.canary_percent = *canary;
  absl::StatusOr<double> shadow = Percent(j, "shadow_percent", 100, source);
  if (!shadow.ok()) return shadow.status();
  s.shadow_percent = *shadow;
  if (auto it = j.find("previous_until"); it != j.end() && !it->is_null()) {
    std::string error;
    if (!it->is_string() ||
        !absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &s.previous_until, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": previous_until must be an RFC 3339 time such as 2026-12-04T10:00:00Z"));
    }
    // Whole seconds, as written back: a hand-written fraction must not read as a change.
    s.previous_until = absl::FromUnixSeconds(absl::ToUnixSeconds(s.previous_until));
  }
  return s;
}

absl::StatusOr<ReleaseSettings> ReadReleaseSettings(const std::string& path,
                                                    size_t max_label_bytes) {
  if (absl::Status s = CheckRegularFile(path, kMaxReleaseFileBytes); !s.ok()) return s;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseReleaseSettings(*text, path, max_label_bytes);
}

std::string SerializeReleaseSettings(const ReleaseSettings& s) {
  nlohmann::json j = nlohmann::json::object();
  if (!s.default_label.empty()) j["default_label"] = s.default_label;
  j["canary_percent"] = s.canary_percent;
  j["shadow_percent"] = s.shadow_percent;
  if (s.previous_until != absl::InfiniteFuture()) {
    j["previous_until"] =
        absl::FormatTime(absl::RFC3339_sec, s.previous_until, absl::UTCTimeZone());
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

absl::Status WriteReleaseSettings(const std::string& path, const ReleaseSettings& settings) {
  if (absl::Status s = ReplaceFileAtomically(path, SerializeReleaseSettings(settings)); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot persist release settings to ", path, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace arginator
