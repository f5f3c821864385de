// Bytes -> a model's labels.json, as the repository watcher reads it (ParseVersionLabels), and the
// file the server writes back (SerializeVersionLabels). Checks the contracts: an accepted file
// holds at most kMaxLabelsPerModel labels of 1 to 256 bytes naming positive versions, and what the
// server writes for it reads back to the same labels (issue 23: the server wrote labels it then
// refused at the next start). The same bytes are also read as the model's other release file,
// release.json (ParseReleaseSettings): percentages in [0, 100], a default label within the label
// limit, and what the server writes back reads back to the same settings.

#include <cstdint>
#include <string>

#include "common/release_settings.h"
#include "common/version_labels.h"
#include "tests/fuzz/fuzz_support.h"

namespace server = arginator;  // the labels file contract lives in common/

namespace {

void CheckReleaseSettings(const std::string& text) {
  if (text.size() > server::kMaxReleaseFileBytes) return;  // refused unread
  auto settings = server::ParseReleaseSettings(text, "release.json", server::kMaxLabelBytes);
  if (!settings.ok()) {
    FUZZ_CHECK(settings.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(settings->canary_percent >= 0 && settings->canary_percent <= 100);
  FUZZ_CHECK(settings->shadow_percent >= 0 && settings->shadow_percent <= 100);
  FUZZ_CHECK(settings->default_label.size() <= server::kMaxLabelBytes);
  const std::string written = server::SerializeReleaseSettings(*settings);
  auto back = server::ParseReleaseSettings(written, "release.json", server::kMaxLabelBytes);
  FUZZ_CHECK(back.ok() && *back == *settings);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  CheckReleaseSettings(text);
  if (size > server::kMaxLabelsFileBytes) return 0;  // refused unread by ReadVersionLabels
  auto labels = server::ParseVersionLabels(text, "labels.json", server::kMaxLabelBytes);
  if (!labels.ok()) {
    FUZZ_CHECK(labels.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(labels->size() <= server::kMaxLabelsPerModel);
  for (const auto& [label, version] : *labels) {
    FUZZ_CHECK(!label.empty() && label.size() <= server::kMaxLabelBytes && version > 0);
  }
  // What the server would write (SetLabel refuses a set whose file would pass the limit).
  const std::string written = server::SerializeVersionLabels(*labels);
  auto back = server::ParseVersionLabels(written, "labels.json", server::kMaxLabelBytes);
  FUZZ_CHECK(back.ok() && *back == *labels);
  return 0;
}
