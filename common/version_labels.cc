#include "common/version_labels.h"

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "nlohmann/json.hpp"

namespace arginator {

absl::StatusOr<std::map<std::string, int64_t>> ParseVersionLabels(const std::string& text,
                                                                  const std::string& source,
                                                                  size_t max_label_bytes) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a JSON object of label -> version, e.g. {\"stable\": 3}"));
  }
  if (json.size() > kMaxLabelsPerModel) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", json.size(), " labels; a model may have at most ", kMaxLabelsPerModel));
  }
  std::map<std::string, int64_t> labels;
  for (const auto& [label, version] : json.items()) {
    if (label.empty() || label.size() > max_label_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": a label must have 1 to ", max_label_bytes, " bytes, one has ", label.size()));
    }
    if (!version.is_number_integer() || version.get<int64_t>() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": label '", label, "' must name a positive version number"));
    }
    labels[label] = version.get<int64_t>();
  }
  return labels;
}

absl::StatusOr<std::map<std::string, int64_t>> ReadVersionLabels(const std::string& path,
                                                                 size_t max_label_bytes) {
  if (absl::Status s = CheckRegularFile(path, kMaxLabelsFileBytes); !s.ok()) return s;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseVersionLabels(*text, path, max_label_bytes);
}

std::string SerializeVersionLabels(const std::map<std::string, int64_t>& labels) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [label, version] : labels) json[label] = version;
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

absl::Status WriteVersionLabels(const std::string& path,
                                const std::map<std::string, int64_t>& labels) {
  if (absl::Status s = ReplaceFileAtomically(path, SerializeVersionLabels(labels)); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot persist version labels to ", path, ": ", s.message(), " (models.persist_labels)"));
  }
  return absl::OkStatus();
}

}  // namespace arginator
