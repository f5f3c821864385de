#include "common/embedding_layouts.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/csv_fields.h"
#include "common/status_macros.h"

namespace arginator {
namespace {

namespace fs = std::filesystem;

constexpr char kBioEmbeddings[] = "bio_embeddings reduced embeddings";
constexpr char kMappingFile[] = "mapping_file.csv";

bool IsMd5Hex(const std::string& key) {
  if (key.size() != 32) return false;
  for (char c : key) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

// mapping_file.csv beside `h5_path`, else one folder up; "" when neither exists.
std::string FindMappingFile(const std::string& h5_path) {
  const fs::path dir = fs::path(h5_path).parent_path();
  // "x.h5", "./x.h5" and "../x.h5" have no usable parent_path(): go up by "..".
  const fs::path name = dir.filename();
  const fs::path parent =
      (name.empty() || name == "." || name == "..") ? dir / ".." : dir.parent_path();
  for (const fs::path& candidate : {dir / kMappingFile, parent / kMappingFile}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

// key -> original_id from a bio_embeddings mapping file.
absl::StatusOr<std::unordered_map<std::string, std::string>> ReadMappingFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  auto not_mapping = [&](int64_t line_no, const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a bio_embeddings mapping file (line ", line_no, ": ", why, ")"));
  };
  std::unordered_map<std::string, std::string> mapping;
  std::vector<std::string> fields;
  size_t columns = 0, id_column = 0;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (absl::Status s = SplitCsvFields(line, ',', &fields); !s.ok()) {
      return not_mapping(line_no, std::string(s.message()));
    }
    if (columns == 0) {  // the header: "",original_id,sequence_length
      auto it = std::find(fields.begin(), fields.end(), "original_id");
      if (it == fields.end() || it == fields.begin()) {
        return not_mapping(line_no, "no original_id column");
      }
      columns = fields.size();
      id_column = static_cast<size_t>(it - fields.begin());
      continue;
    }
    if (fields.size() != columns) {
      return not_mapping(line_no, absl::StrCat(fields.size(), " fields, the header has ", columns));
    }
    mapping[fields[0]] = fields[id_column];
  }
  if (columns == 0) return not_mapping(1, "empty");
  return mapping;
}

// Names the layout from the keys alone, when no file says where the ids are.
void DescribeKeys(const std::vector<std::string>& names, EmbeddingSource* source) {
  auto all = [&](bool (*test)(const std::string&)) {
    return std::all_of(names.begin(), names.end(), test);
  };
  if (all(IsMd5Hex)) {
    source->layout = kBioEmbeddings;
    source->ids =
        "dataset names (md5 digests of the sequences: give --fasta FILE to recover the FASTA ids)";
  } else if (std::any_of(names.begin(), names.end(),
                         [](const std::string& n) { return n.find(' ') != std::string::npos; })) {
    source->layout = "ProtTrans embedder (keys are FASTA headers with '/' and '.' replaced by '_')";
    source->ids = "dataset names (give --fasta FILE to recover the FASTA ids)";
  } else if (all(IsUniProtAccession)) {
    source->layout = "UniProt per-protein.h5";
    source->ids = "dataset names (UniProt accessions)";
  } else {
    source->layout = "per-protein datasets";
    source->ids = "dataset names";
  }
}

absl::StatusOr<std::vector<std::string>> IdsFromAttributes(
    const std::string& path, const std::vector<std::string>& names,
    const std::vector<std::string>& original_ids) {
  std::vector<std::string> ids(names.size());
  std::map<std::string, size_t> first_with;
  for (size_t i = 0; i < names.size(); ++i) {
    ids[i] = original_ids[i].empty() ? names[i] : original_ids[i];
    auto [it, inserted] = first_with.emplace(ids[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": datasets '", names[it->second],
                                                     "' and '", names[i],
                                                     "' both have original_id '", ids[i], "'"));
    }
  }
  return ids;
}

}  // namespace

bool IsUniProtAccession(const std::string& key) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto alnum = [&](char c) { return upper(c) || digit(c); };
  auto block = [&](size_t at) {  // [A-Z][A-Z0-9]{2}[0-9]
    return upper(key[at]) && alnum(key[at + 1]) && alnum(key[at + 2]) && digit(key[at + 3]);
  };
  if (key.size() == 6 && (key[0] == 'O' || key[0] == 'P' || key[0] == 'Q')) {
    return digit(key[1]) && alnum(key[2]) && alnum(key[3]) && alnum(key[4]) && digit(key[5]);
  }
  if (key.size() != 6 && key.size() != 10) return false;
  if (!upper(key[0]) || key[0] == 'O' || key[0] == 'P' || key[0] == 'Q' || !digit(key[1])) {
    return false;
  }
  return block(2) && (key.size() == 6 || block(6));
}

absl::StatusOr<std::vector<std::string>> ResolveHdf5Ids(
    const std::string& path, const std::vector<std::string>& names,
    const std::vector<std::string>& original_ids, EmbeddingSource* source) {
  if (std::any_of(original_ids.begin(), original_ids.end(),
                  [](const std::string& id) { return !id.empty(); })) {
    source->layout = kBioEmbeddings;
    source->ids = "original_id attributes";
    return IdsFromAttributes(path, names, original_ids);
  }
  if (const std::string mapping_path = FindMappingFile(path); !mapping_path.empty()) {
    ARG_ASSIGN_OR_RETURN(auto mapping, ReadMappingFile(mapping_path));
    std::vector<std::string> ids;
    const std::string* missing = nullptr;
    for (const std::string& name : names) {
      auto it = mapping.find(name);
      if (it == mapping.end()) {
        if (missing == nullptr) missing = &name;
      } else {
        ids.push_back(it->second);
      }
    }
    if (missing == nullptr) {
      source->layout = kBioEmbeddings;
      source->ids = absl::StrCat(kMappingFile, " (", mapping_path, ")");
      return IdsFromAttributes(path, names, ids);
    }
    if (!ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          mapping_path, ": lists ", ids.size(), " of the ", names.size(), " datasets in ", path,
          " (not '", *missing, "'); the ids cannot be recovered"));
    }
  }
  DescribeKeys(names, source);
  return names;
}

absl::StatusOr<Hdf5IdResolver> Hdf5IdResolver::Create(const std::string& path,
                                                      std::vector<std::string> all_names) {
  Hdf5IdResolver resolver;
  resolver.path_ = path;
  resolver.all_names_ = std::move(all_names);
  resolver.mapping_path_ = FindMappingFile(path);
  if (!resolver.mapping_path_.empty()) {
    ARG_ASSIGN_OR_RETURN(resolver.mapping_, ReadMappingFile(resolver.mapping_path_));
    for (const std::string& name : resolver.all_names_) {
      if (resolver.mapping_.count(name) > 0) {
        ++resolver.mapped_names_;
      } else if (resolver.first_unmapped_.empty()) {
        resolver.first_unmapped_ = name;
      }
    }
  }
  return resolver;
}

absl::StatusOr<std::vector<std::string>> Hdf5IdResolver::Resolve(
    const std::vector<std::string>& names, const std::vector<std::string>& original_ids) {
  const bool mapped = MapsEveryName();
  std::vector<std::string> ids;
  ids.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    std::string id;
    if (!original_ids[i].empty()) {
      attributes_seen_ = true;
      id = original_ids[i];
    } else if (mapped) {
      id = mapping_.at(names[i]);
    } else if (!attributes_seen_ && mapped_names_ > 0) {
      // ResolveHdf5Ids's error for a file without attributes and a mapping of only some names.
      return absl::InvalidArgumentError(absl::StrCat(
          mapping_path_, ": lists ", mapped_names_, " of the ", all_names_.size(), " datasets in ",
          path_, " (not '", first_unmapped_, "'); the ids cannot be recovered"));
    } else {
      id = names[i];
    }
    if (attributes_seen_ || mapped) {
      auto [it, inserted] = first_with_.emplace(id, names[i]);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(path_, ": datasets '", it->second, "' and '",
                                                       names[i], "' both have original_id '", id,
                                                       "'"));
      }
    }
    ids.push_back(std::move(id));
  }
  return ids;
}

void Hdf5IdResolver::Describe(EmbeddingSource* source) const {
  if (attributes_seen_) {
    source->layout = kBioEmbeddings;
    source->ids = "original_id attributes";
  } else if (MapsEveryName()) {
    source->layout = kBioEmbeddings;
    source->ids = absl::StrCat(kMappingFile, " (", mapping_path_, ")");
  } else {
    DescribeKeys(all_names_, source);
  }
}

}  // namespace arginator
