#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace arginator::trainer {

// A lab's labels as they usually arrive: one table, a row per protein, beside one or more
// embedding files. TSV (or CSV for a .csv file, RFC 4180 quoting) with a header naming the columns
// `id` and `label` and optionally `group` (a sequence cluster from CD-HIT or MMseqs2, or a family:
// the unit an honest split keeps together); other columns are ignored. Blank lines are skipped.
struct LabelsTable {
  struct Row {
    std::string id, label, group;
    int64_t line = 0;
  };
  std::string path;
  std::vector<Row> rows;  // in file order
  bool has_groups = false;
};

// Errors (INVALID_ARGUMENT) name the file and line: no `id` or `label` column, a row with the
// wrong number of fields, an empty id or label, an empty group where the column exists.
// Duplicated ids are left to the caller, which decides whether they are errors.
absl::StatusOr<LabelsTable> ReadLabelsTable(const std::string& path);

}  // namespace arginator::trainer
