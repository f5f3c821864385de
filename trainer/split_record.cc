#include "trainer/split_record.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/csv_fields.h"
#include "common/file_io.h"
#include "common/sha256.h"

namespace arginator::trainer {

std::string EmbeddingDigest(const float* row, int dim) {
  return Sha256Hex(std::string(reinterpret_cast<const char*>(row), dim * sizeof(float)))
      .substr(0, 16);
}

absl::Status WriteSplitRecord(const std::string& path, const EmbeddingMatrix& x,
                              const SplitIndices& split) {
  std::string text = "id\tpart\tembedding_sha256\n";
  const std::pair<const char*, const std::vector<size_t>*> parts[] = {
      {"train", &split.train}, {"val", &split.val}, {"test", &split.test}};
  for (const auto& [part, rows] : parts) {
    for (size_t r : *rows) {
      absl::StrAppend(&text, CsvField(x.ids[r], '\t'), "\t", part, "\t",
                      EmbeddingDigest(x.row(r), x.dim), "\n");
    }
  }
  return WriteFileDurably(path, text);
}

absl::StatusOr<SplitRecord> ReadSplitRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  SplitRecord record;
  std::vector<std::string> fields;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 || line.empty()) continue;  // the header
    if (!SplitCsvFields(line, '\t', &fields).ok() || fields.size() != 3) {
      return absl::DataLossError(
          absl::StrCat(path, ": line ", line_no, " is not id, part, digest"));
    }
    record.part_of_id[fields[0]] = fields[1];
    record.part_of_digest[fields[2]] = fields[1];
  }
  return record;
}

}  // namespace arginator::trainer
