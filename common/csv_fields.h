#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace arginator {

// Splits one CSV/TSV line into fields by RFC 4180: a field that starts with '"' is quoted, ends
// at the next '"' not doubled, and may hold the separator; "" inside it is one '"'. Unquoted fields
// are kept as written (callers strip what they need). A quoted field cannot span lines.
// Errors (INVALID_ARGUMENT) name the 1-based field and are meant to be prefixed with the file and
// line: "field 2 has an unclosed quote ...", "field 1 has text after its closing quote".
absl::Status SplitCsvFields(absl::string_view line, char separator,
                            std::vector<std::string>* fields);

// `value` as one RFC 4180 field: as it is, or quoted (quotes doubled) when it holds the separator,
// a quote or a line break, so SplitCsvFields reads it back unchanged.
std::string CsvField(const std::string& value, char separator = ',');

}  // namespace arginator
