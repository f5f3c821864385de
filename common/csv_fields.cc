#include "common/csv_fields.h"

#include "absl/strings/str_cat.h"

namespace arginator {

absl::Status SplitCsvFields(absl::string_view line, char separator,
                            std::vector<std::string>* fields) {
  fields->clear();
  size_t at = 0;
  while (true) {
    const size_t number = fields->size() + 1;
    std::string field;
    if (at < line.size() && line[at] == '"') {
      ++at;
      while (true) {
        const size_t quote = line.find('"', at);
        if (quote == absl::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat(
              "field ", number, " has an unclosed quote (quoted fields cannot span lines)"));
        }
        field.append(line.data() + at, quote - at);
        at = quote + 1;
        if (at < line.size() && line[at] == '"') {
          field += '"';
          ++at;
          continue;
        }
        break;
      }
      if (at < line.size() && line[at] != separator) {
        return absl::InvalidArgumentError(
            absl::StrCat("field ", number, " has text after its closing quote"));
      }
    } else {
      const size_t end = std::min(line.find(separator, at), line.size());
      field.assign(line.data() + at, end - at);
      at = end;
    }
    fields->push_back(std::move(field));
    if (at >= line.size()) return absl::OkStatus();
    ++at;  // the separator
    if (at == line.size()) {
      fields->emplace_back();  // a trailing separator ends with an empty field
      return absl::OkStatus();
    }
  }
}

std::string CsvField(const std::string& value, char separator) {
  const char special[] = {separator, '"', '\r', '\n', '\0'};
  if (value.find_first_of(special) == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace arginator
