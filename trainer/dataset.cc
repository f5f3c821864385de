#include "trainer/dataset.h"

#include <glob.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/embedding_files.h"
#include "common/file_io.h"
#include "common/hdf5_embeddings.h"
#include "common/id_map.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/labels_table.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;
constexpr char kCacheMagic[] = "ARGINATOR-CACHE-3";  // 3: classes, groups, label source

absl::StatusOr<std::vector<std::string>> MatchFiles(const std::string& dir,
                                                    const std::string& pattern,
                                                    const std::string& what) {
  std::string full = (fs::path(dir) / pattern).string();
  glob_t g{};
  int rc = glob(full.c_str(), 0, nullptr, &g);
  std::vector<std::string> paths;
  if (rc == 0) paths.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  globfree(&g);
  if (paths.empty()) {
    return absl::NotFoundError(absl::StrCat(what, ": no file matches '", pattern, "' in ", dir));
  }
  return paths;  // glob sorts
}

std::string CachePath(const DatasetOptions& options, const std::string& key) {
  std::string dir = options.cache_dir.empty()
                        ? (fs::path(options.dir) / ".arginator-cache").string()
                        : options.cache_dir;
  return (fs::path(dir) / (key + ".bin")).string();
}

// Cache layout: magic, sizes, a JSON header (files, classes, label source, warnings), then per
// row: class (int32), id length (uint32), id bytes, group length (uint32), group bytes; then all
// values as float32.
absl::Status WriteCache(const std::string& path, const Dataset& data) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : data.files) {
    files.push_back({{"class", f.class_name},
                     {"path", f.path},
                     {"sha256", f.sha256},
                     {"count", f.count},
                     {"synthetic", f.synthetic},
                     {"layout", f.source.layout},
                     {"ids", f.source.ids},
                     {"precision", f.source.precision},
                     {"pooled", f.source.pooled}});
  }
  const std::string head = nlohmann::json{
      {"files", files},
      {"class_names", data.class_names},
      {"label_source", data.label_source},
      {"labels_sha256", data.labels_sha256},
      {"warnings", data.warnings},
      {"groups",
       !data.groups.empty()}}.dump();
  std::string tmp = absl::StrCat(path, ".tmp-", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write cache"));
    auto put = [&](const void* p, size_t n) { out.write(static_cast<const char*>(p), n); };
    auto put_string = [&](const std::string& text) {
      uint32_t len = text.size();
      put(&len, sizeof(len));
      put(text.data(), len);
    };
    put(kCacheMagic, sizeof(kCacheMagic));
    uint64_t sizes[3] = {head.size(), data.x.rows(), static_cast<uint64_t>(data.x.dim)};
    put(sizes, sizeof(sizes));
    put(head.data(), head.size());
    for (size_t i = 0; i < data.x.rows(); ++i) {
      int32_t c = data.class_index[i];
      put(&c, sizeof(c));
      put_string(data.x.ids[i]);
      put_string(data.groups.empty() ? std::string() : data.groups[i]);
    }
    put(data.x.values.data(), data.x.values.size() * sizeof(float));
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": cache write failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename cache ", tmp));
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ReadCache(const std::string& path, int dim) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path);
  auto get = [&](void* p, size_t n) { in.read(static_cast<char*>(p), n); };
  auto get_string = [&](std::string& text) {
    uint32_t len = 0;
    get(&len, sizeof(len));
    if (!in || len > (1u << 20)) return false;
    text.resize(len);
    get(text.data(), len);
    return static_cast<bool>(in);
  };
  char magic[sizeof(kCacheMagic)] = {};
  get(magic, sizeof(magic));
  uint64_t sizes[3] = {};
  get(sizes, sizeof(sizes));
  if (!in || std::string(magic) != kCacheMagic || sizes[2] != static_cast<uint64_t>(dim) ||
      sizes[0] > (uint64_t{1} << 30)) {
    return absl::DataLossError(absl::StrCat(path, ": not a cache file of this version"));
  }
  std::string head(sizes[0], '\0');
  get(head.data(), head.size());
  Dataset data;
  auto header = nlohmann::json::parse(head, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": bad header"));
  }
  try {
    for (const auto& f : header.at("files")) {
      data.files.push_back({f.at("class"),
                            f.at("path"),
                            f.at("sha256"),
                            f.at("count"),
                            f.at("synthetic"),
                            {f.at("layout"), f.at("ids"), f.at("precision"), f.at("pooled")}});
    }
    data.class_names = header.at("class_names").get<std::vector<std::string>>();
    data.label_source = header.at("label_source");
    data.labels_sha256 = header.at("labels_sha256");
    data.warnings = header.at("warnings").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    return absl::DataLossError(absl::StrCat(path, ": bad header"));
  }
  const bool groups = header.value("groups", false);
  data.x.dim = dim;
  data.x.ids.resize(sizes[1]);
  data.class_index.resize(sizes[1]);
  if (groups) data.groups.resize(sizes[1]);
  std::string group;
  for (uint64_t i = 0; i < sizes[1]; ++i) {
    int32_t c;
    get(&c, sizeof(c));
    data.class_index[i] = c;
    if (!get_string(data.x.ids[i]) || !get_string(group)) {
      return absl::DataLossError(absl::StrCat(path, ": truncated cache"));
    }
    if (groups) data.groups[i] = group;
  }
  data.x.values.resize(sizes[1] * dim);
  get(data.x.values.data(), data.x.values.size() * sizeof(float));
  if (!in) return absl::DataLossError(absl::StrCat(path, ": truncated cache"));
  return data;
}

// `path` inside `dir` unless absolute.
std::string InDir(const std::string& dir, const std::string& path) {
  return path.empty() ? path : (fs::path(dir) / path).string();
}

// "3 ids ... (e.g. 'a', 'b', 'c')".
std::string Examples(const std::vector<std::string>& ids) {
  std::string text;
  for (size_t i = 0; i < ids.size() && i < 3; ++i) {
    absl::StrAppend(&text, i ? ", " : "", "'", ids[i], "'");
  }
  return absl::StrCat("(e.g. ", text, ")");
}

// Reads every file in order, ids unique across them, the id map applied.
absl::Status ReadFiles(const DatasetOptions& options, Dataset& data) {
  ARG_ASSIGN_OR_RETURN(std::unique_ptr<IdMap> id_map, LoadIdMap(InDir(options.dir, options.id_map),
                                                                InDir(options.dir, options.fasta)));
  EmbeddingReadOptions read_options;
  read_options.dim = options.dim;
  read_options.pool_residues = options.pool_residues;
  read_options.id_map = id_map.get();
  std::unordered_map<std::string, size_t> first_file_of_id;
  for (size_t f = 0; f < data.files.size(); ++f) {
    SourceFile& file = data.files[f];
    ARG_ASSIGN_OR_RETURN(EmbeddingMatrix m,
                         ReadEmbeddingFile(file.path, read_options, &file.source));
    for (const std::string& id : m.ids) {
      auto [pos, inserted] = first_file_of_id.emplace(id, f);
      if (!inserted) {
        const SourceFile& other = data.files[pos->second];
        auto where = [](const SourceFile& s) {
          return s.class_name.empty() ? s.path : absl::StrCat(s.path, " (", s.class_name, ")");
        };
        return absl::InvalidArgumentError(absl::StrCat("protein id '", id, "' appears in both ",
                                                       where(other), " and ", where(file)));
      }
    }
    file.count = static_cast<int64_t>(m.rows());
    if (auto attrs = ReadRootAttributesH5(file.path); attrs.ok()) {  // HDF5 files only
      auto s = attrs->find("synthetic");
      file.synthetic = s != attrs->end() && s->second == "true";
    }
    data.x.Append(m);
  }
  data.x.dim = options.dim;
  return absl::OkStatus();
}

// Orders the classes found by `label_set` when one is given: every class must be in it, and
// every class in it must have proteins.
absl::StatusOr<std::vector<std::string>> OrderClasses(std::vector<std::string> found,
                                                      const std::vector<std::string>& label_set) {
  if (label_set.empty()) return found;
  for (const std::string& name : found) {
    if (std::find(label_set.begin(), label_set.end(), name) == label_set.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the data has the class '", name, "', which data.label_set does not list"));
    }
  }
  for (const std::string& name : label_set) {
    if (std::find(found.begin(), found.end(), name) == found.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("data.label_set lists '", name, "', which no protein has"));
    }
  }
  return label_set;
}

// Labels the rows read from the files by the labels table: keeps the labelled proteins (in file
// order), with their class and group.
absl::Status ApplyLabelsTable(const DatasetOptions& options, const LabelsTable& table,
                              Dataset& data) {
  std::unordered_map<std::string, const LabelsTable::Row*> row_of;
  std::vector<std::string> duplicated, unmatched, unlabelled;
  for (const auto& row : table.rows) {
    if (!row_of.emplace(row.id, &row).second) duplicated.push_back(row.id);
  }
  std::unordered_map<std::string, size_t> embedded;
  for (size_t i = 0; i < data.x.rows(); ++i) embedded.emplace(data.x.ids[i], i);
  for (const auto& row : table.rows) {
    if (!embedded.count(row.id)) unmatched.push_back(row.id);
  }
  for (const std::string& id : data.x.ids) {
    if (!row_of.count(id)) unlabelled.push_back(id);
  }
  const std::pair<std::vector<std::string>*, std::string> problems[] = {
      {&duplicated, absl::StrCat("ids are labelled more than once in ", table.path)},
      {&unmatched, absl::StrCat("labelled ids of ", table.path, " are in no embedding file")},
      {&unlabelled, absl::StrCat("proteins of the embedding files have no label in ", table.path)}};
  for (const auto& [ids, what] : problems) {
    if (ids->empty()) continue;
    std::string line = absl::StrCat(ids->size(), " ", what, " ", Examples(*ids));
    if (!options.warn_on_label_errors) {
      return absl::InvalidArgumentError(
          absl::StrCat(line, "; fix the table, or set data.label_errors=warn to leave them out"));
    }
    data.warnings.push_back(absl::StrCat(line, "; left out (data.label_errors=warn)"));
  }
  std::unordered_set<std::string> dropped(duplicated.begin(), duplicated.end());
  std::set<std::string> labels;
  for (const auto& row : table.rows) {
    if (!dropped.count(row.id) && embedded.count(row.id)) labels.insert(row.label);
  }
  ARG_ASSIGN_OR_RETURN(data.class_names,
                       OrderClasses({labels.begin(), labels.end()}, options.label_set));
  EmbeddingMatrix kept;
  kept.dim = data.x.dim;
  for (size_t i = 0; i < data.x.rows(); ++i) {
    auto it = row_of.find(data.x.ids[i]);
    if (it == row_of.end() || dropped.count(data.x.ids[i])) continue;
    kept.ids.push_back(data.x.ids[i]);
    kept.values.insert(kept.values.end(), data.x.row(i), data.x.row(i) + data.x.dim);
    data.class_index.push_back(static_cast<int>(
        std::find(data.class_names.begin(), data.class_names.end(), it->second->label) -
        data.class_names.begin()));
    if (table.has_groups) data.groups.push_back(it->second->group);
  }
  data.x = std::move(kept);
  return absl::OkStatus();
}

// The input files in order (class files by class, or the labels table's embedding files), with
// the class names of the class-file layout; NOT_FOUND naming what is missing. Reads nothing.
absl::Status ResolveInputs(const DatasetOptions& options, Dataset& data,
                           std::vector<std::string>& class_names) {
  if (!fs::is_directory(options.dir)) {
    return absl::NotFoundError(absl::StrCat("data directory '", options.dir, "' does not exist"));
  }
  for (const std::string& named : {options.labels, options.id_map, options.fasta}) {
    if (!named.empty() && !fs::is_regular_file(InDir(options.dir, named))) {
      return absl::NotFoundError(absl::StrCat(InDir(options.dir, named), ": no such file"));
    }
  }
  if (!options.labels.empty()) {
    if (options.embedding_files.empty()) {
      return absl::InvalidArgumentError(
          "data.labels needs data.embeddings: the embedding files (or globs) its ids are in");
    }
    data.label_source = absl::StrCat("labels table ", InDir(options.dir, options.labels));
    for (const std::string& pattern : options.embedding_files) {
      ARG_ASSIGN_OR_RETURN(std::vector<std::string> paths,
                           MatchFiles(options.dir, pattern, "data.embeddings"));
      for (const std::string& path : paths) data.files.push_back({"", path, "", 0, false, {}});
    }
    return absl::OkStatus();
  }
  data.label_source = "class files";
  for (const auto& [cls, pattern] : options.class_files) {
    if (!pattern.empty()) class_names.push_back(cls);
  }
  ARG_ASSIGN_OR_RETURN(class_names, OrderClasses(class_names, options.label_set));
  for (const std::string& cls : class_names) {
    ARG_ASSIGN_OR_RETURN(
        std::vector<std::string> paths,
        MatchFiles(options.dir, options.class_files.at(cls), absl::StrCat("class '", cls, "'")));
    for (const std::string& path : paths) data.files.push_back({cls, path, "", 0, false, {}});
  }
  return absl::OkStatus();
}

}  // namespace

int64_t Dataset::CountOfClass(int c) const {
  int64_t n = 0;
  for (int v : class_index) n += (v == c);
  return n;
}

bool Dataset::synthetic() const {
  for (const auto& f : files) {
    if (f.synthetic) return true;
  }
  return false;
}

absl::Status CheckDataFiles(const DatasetOptions& options) {
  Dataset data;
  std::vector<std::string> class_names;
  return ResolveInputs(options, data, class_names);
}

absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options) {
  // Resolve files in order; hash them for the cache key and the model card.
  Dataset data;
  std::string key_material =
      absl::StrCat("dim=", options.dim, ";pool=", options.pool_residues, ";");
  std::vector<std::string> class_names;  // of the class-file layout
  ARG_RETURN_IF_ERROR(ResolveInputs(options, data, class_names));
  if (!options.labels.empty()) {
    ARG_ASSIGN_OR_RETURN(data.labels_sha256, Sha256File(InDir(options.dir, options.labels)));
    absl::StrAppend(&key_material, "labels=", data.labels_sha256,
                    ";set=", absl::StrJoin(options.label_set, ","),
                    ";warn=", options.warn_on_label_errors, ";");
  }
  for (SourceFile& file : data.files) {
    ARG_ASSIGN_OR_RETURN(file.sha256, Sha256File(file.path));
    absl::StrAppend(&key_material, file.class_name, "=", fs::path(file.path).filename().string(),
                    ":", file.sha256, ";");
  }
  // The id map's contents decide the ids, so they are part of the key.
  for (const std::string& map_file : {options.id_map, options.fasta}) {
    if (map_file.empty()) continue;
    ARG_ASSIGN_OR_RETURN(std::string sha, Sha256File(InDir(options.dir, map_file)));
    absl::StrAppend(&key_material, "ids=", sha, ";");
  }
  data.cache_key = Sha256Hex(key_material);

  const bool use_cache = options.cache_dir != "-";
  const std::string cache_path = CachePath(options, data.cache_key);
  if (use_cache) {
    if (auto cached = ReadCache(cache_path, options.dim); cached.ok()) {
      cached->cache_key = data.cache_key;
      cached->from_cache = true;
      for (size_t i = 0; i < cached->files.size() && i < data.files.size(); ++i) {
        cached->files[i].path = data.files[i].path;  // the directory may have moved
      }
      return *std::move(cached);
    }
  }

  ARG_RETURN_IF_ERROR(ReadFiles(options, data));
  if (!options.labels.empty()) {
    ARG_ASSIGN_OR_RETURN(LabelsTable table, ReadLabelsTable(InDir(options.dir, options.labels)));
    ARG_RETURN_IF_ERROR(ApplyLabelsTable(options, table, data));
  } else {
    data.class_names = class_names;
    for (size_t f = 0; f < data.files.size(); ++f) {
      const int cls = static_cast<int>(
          std::find(class_names.begin(), class_names.end(), data.files[f].class_name) -
          class_names.begin());
      data.class_index.insert(data.class_index.end(), data.files[f].count, cls);
    }
  }
  if (use_cache) {
    if (absl::Status s = WriteCache(cache_path, data); !s.ok()) {
      std::fprintf(stderr, "warning: processed cache not written: %s\n", s.ToString().c_str());
    }
  }
  return data;
}

std::vector<int> RowLabels(const Dataset& data, const LabelScheme& scheme) {
  std::vector<int> labels(data.class_index.size());
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = scheme.label_of_class[data.class_index[i]];
  return labels;
}

NormSummary SummarizeNorms(const EmbeddingMatrix& x, const std::vector<size_t>& rows) {
  NormSummary s;
  if (rows.empty()) return s;
  s.min = INFINITY;
  s.max = -INFINITY;
  double sum = 0, sum_sq = 0;
  for (size_t r : rows) {
    double n = RowL2Norm(x.row(r), x.dim);
    sum += n;
    sum_sq += n * n;
    s.min = std::min(s.min, n);
    s.max = std::max(s.max, n);
  }
  s.mean = sum / rows.size();
  s.std = std::sqrt(std::max(0.0, sum_sq / rows.size() - s.mean * s.mean));
  return s;
}

void PrintDataReport(const Dataset& data, std::ostream& out) {
  out << "Data report" << (data.from_cache ? " (processed cache hit, file parsing skipped)" : "")
      << "\n";
  out << "  labels from " << data.label_source << "; " << data.class_names.size() << " classes"
      << (data.groups.empty() ? "" : ", with groups") << "\n";
  for (const std::string& warning : data.warnings) out << "  warning: " << warning << "\n";
  out << "  dimension " << data.x.dim << ", " << data.x.rows()
      << " embeddings, all finite (no NaN/Inf), no duplicate ids"
      << (data.synthetic() ? ", SYNTHETIC data (gen-data)" : "") << "\n";
  for (const auto& f : data.files) {
    out << "  " << std::left << std::setw(18)
        << (f.class_name.empty() ? "(labelled)" : f.class_name) << std::right << std::setw(7)
        << f.count << "  " << f.path << "  sha256 " << f.sha256.substr(0, 12) << "\n";
    out << "  " << std::setw(27) << "" << f.source.layout << ", " << f.source.precision
        << "; ids from " << f.source.ids;
    if (f.source.pooled > 0) out << "; " << f.source.pooled << " per-residue arrays mean-pooled";
    out << "\n";
  }
  out << "  L2 norm by class:      mean      std      min      max\n";
  std::vector<size_t> all(data.x.rows());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto line = [&](const std::string& name, const std::vector<size_t>& rows) {
    NormSummary s = SummarizeNorms(data.x, rows);
    out << "  " << std::left << std::setw(18) << name << std::right << std::fixed
        << std::setprecision(3) << std::setw(9) << s.mean << std::setw(9) << s.std << std::setw(9)
        << s.min << std::setw(9) << s.max << "  (n=" << rows.size() << ")\n";
    out.unsetf(std::ios::fixed);
  };
  for (size_t c = 0; c < data.class_names.size(); ++c) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < data.class_index.size(); ++i) {
      if (data.class_index[i] == static_cast<int>(c)) rows.push_back(i);
    }
    line(data.class_names[c], rows);
  }
  line("all", all);
}

}  // namespace arginator::trainer
