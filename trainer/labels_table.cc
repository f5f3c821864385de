#include "trainer/labels_table.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/csv_fields.h"

namespace arginator::trainer {

absl::StatusOr<LabelsTable> ReadLabelsTable(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("data.labels: cannot open ", path));
  const bool csv =
      absl::AsciiStrToLower(std::filesystem::path(path).extension().string()) == ".csv";
  const char separator = csv ? ',' : '\t';
  LabelsTable table;
  table.path = path;
  auto bad = [&](int64_t line_no, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, ": ", why));
  };
  std::vector<std::string> fields;
  size_t columns = 0, id_at = 0, label_at = 0, group_at = 0;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (absl::Status s = SplitCsvFields(line, separator, &fields); !s.ok()) {
      return bad(line_no, std::string(s.message()));
    }
    for (std::string& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
    if (columns == 0) {
      auto column = [&](const char* name) {
        return static_cast<size_t>(std::find(fields.begin(), fields.end(), name) - fields.begin());
      };
      columns = fields.size();
      id_at = column("id");
      label_at = column("label");
      group_at = column("group");
      if (id_at == columns || label_at == columns) {
        return bad(line_no, absl::StrCat("the header needs the columns 'id' and 'label' (",
                                         csv ? "comma" : "tab", "-separated); it has ",
                                         fields.size(), " field(s), starting '", fields[0], "'"));
      }
      table.has_groups = group_at != columns;
      continue;
    }
    if (fields.size() != columns) {
      return bad(line_no, absl::StrCat(fields.size(), " fields; the header has ", columns));
    }
    LabelsTable::Row row{fields[id_at], fields[label_at], table.has_groups ? fields[group_at] : "",
                         line_no};
    if (row.id.empty()) return bad(line_no, "empty id");
    if (row.label.empty()) return bad(line_no, absl::StrCat("'", row.id, "' has an empty label"));
    if (table.has_groups && row.group.empty()) {
      return bad(line_no, absl::StrCat("'", row.id, "' has an empty group"));
    }
    table.rows.push_back(std::move(row));
  }
  if (columns == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": empty labels table"));
  if (table.rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no rows"));
  return table;
}

}  // namespace arginator::trainer
