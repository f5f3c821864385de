#include "common/id_map.h"

#include <fstream>
#include <memory>
#include <unordered_set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/csv_fields.h"
#include "common/sha256.h"

namespace arginator {
namespace {

std::string ProtTransKey(std::string header) {
  for (char& c : header) {
    if (c == '/' || c == '.') c = '_';
  }
  return header;
}

}  // namespace

void IdMap::Add(const std::string& key, const std::string& id) {
  auto [it, inserted] = entries_.emplace(key, Entry{id, ""});
  if (!inserted && it->second.id != id && it->second.other_id.empty()) it->second.other_id = id;
}

absl::StatusOr<IdMap> IdMap::FromTable(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  IdMap map(path);
  std::unordered_map<std::string, int64_t> line_of;
  char separator = 0;
  std::vector<std::string> fields;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (separator == 0) separator = line.find('\t') != std::string::npos ? '\t' : ',';
    if (absl::Status s = SplitCsvFields(line, separator, &fields); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, ": ", s.message()));
    }
    if (line_no == 1 && fields.size() == 2 && fields[0] == "key" && fields[1] == "id") continue;
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line ", line_no, " has ", fields.size(), " fields; expected 2 (key, id)"));
    }
    if (fields[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, " has an empty id"));
    }
    auto [it, inserted] = map.entries_.emplace(fields[0], Entry{fields[1], ""});
    if (!inserted && it->second.id != fields[1]) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key '", fields[0], "' is mapped twice (line ", line_of[fields[0]],
                       ": '", it->second.id, "', line ", line_no, ": '", fields[1], "')"));
    }
    line_of.emplace(fields[0], line_no);
  }
  return map;
}

absl::StatusOr<IdMap> IdMap::FromFasta(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  IdMap map(path);
  std::string header, sequence, line;
  bool in_record = false;
  auto finish = [&] {
    if (!in_record) return;
    const std::string id(header.substr(0, header.find_first_of(" \t\v\f")));
    map.Add(id, id);
    map.Add(header, id);
    map.Add(ProtTransKey(header), id);
    map.Add(Md5Hex(sequence), id);
  };
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == '>') {
      finish();
      header = std::string(absl::StripAsciiWhitespace(absl::string_view(line).substr(1)));
      sequence.clear();
      in_record = true;
    } else if (!absl::StripAsciiWhitespace(line).empty()) {
      if (!in_record) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line ", line_no, " comes before the first '>' header"));
      }
      for (char c : line) {
        if (!absl::ascii_isspace(static_cast<unsigned char>(c))) sequence += c;
      }
    }
  }
  finish();
  if (map.entries_.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, ": no FASTA records"));
  return map;
}

absl::Status IdMap::Apply(const std::string& path, EmbeddingMatrix& matrix,
                          EmbeddingSource* source) const {
  std::vector<std::string> ids;
  ids.reserve(matrix.rows());
  std::vector<std::string> missing;
  size_t missing_count = 0;
  for (const std::string& key : matrix.ids) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (++missing_count <= 3) missing.push_back(absl::StrCat("'", key, "'"));
      continue;
    }
    if (!it->second.other_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key '", key,
                                                     "' matches the records '", it->second.id,
                                                     "' and '", it->second.other_id, "'"));
    }
    ids.push_back(it->second.id);
  }
  if (missing_count > 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", missing_count, " of ", matrix.rows(),
                                                   " ids are not in ", path_, " (e.g. ",
                                                   absl::StrJoin(missing, ", "), ")"));
  }
  std::unordered_map<std::string, size_t> first_with;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = first_with.emplace(ids[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": '", matrix.ids[it->second], "' and '",
                                                     matrix.ids[i], "' both map to '", ids[i],
                                                     "'"));
    }
  }
  matrix.ids = std::move(ids);
  if (source != nullptr) absl::StrAppend(&source->ids, " -> ", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<IdMap>> LoadIdMap(const std::string& table_path,
                                                 const std::string& fasta_path) {
  if (!table_path.empty() && !fasta_path.empty()) {
    return absl::InvalidArgumentError("give an id map table or a FASTA file, not both");
  }
  if (table_path.empty() && fasta_path.empty()) return std::unique_ptr<IdMap>();
  absl::StatusOr<IdMap> map =
      table_path.empty() ? IdMap::FromFasta(fasta_path) : IdMap::FromTable(table_path);
  if (!map.ok()) return map.status();
  return std::make_unique<IdMap>(*std::move(map));
}

}  // namespace arginator
