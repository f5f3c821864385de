#include "trainer/dataset.h"

#include <glob.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/embedding_files.h"
#include "common/file_io.h"
#include "common/hdf5_embeddings.h"
#include "common/id_map.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/config.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;
constexpr char kCacheMagic[] = "ARGINATOR-CACHE-2";  // 2: each file's layout

absl::StatusOr<std::vector<std::string>> MatchFiles(const std::string& dir,
                                                    const std::string& pattern,
                                                    const std::string& class_name) {
  std::string full = (fs::path(dir) / pattern).string();
  glob_t g{};
  int rc = glob(full.c_str(), 0, nullptr, &g);
  std::vector<std::string> paths;
  if (rc == 0) paths.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  globfree(&g);
  if (paths.empty()) {
    return absl::NotFoundError(
        absl::StrCat("class '", class_name, "': no file matches '", pattern, "' in ", dir));
  }
  return paths;  // glob sorts
}

std::string CachePath(const DatasetOptions& options, const std::string& key) {
  std::string dir = options.cache_dir.empty()
                        ? (fs::path(options.dir) / ".arginator-cache").string()
                        : options.cache_dir;
  return (fs::path(dir) / (key + ".bin")).string();
}

// Cache layout: magic, JSON header (files), then per row: class (int32), id length (uint32),
// id bytes; then all values as float32.
absl::Status WriteCache(const std::string& path, const Dataset& data) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  nlohmann::json header = nlohmann::json::array();
  for (const auto& f : data.files) {
    header.push_back({{"class", f.class_name},
                      {"path", f.path},
                      {"sha256", f.sha256},
                      {"count", f.count},
                      {"synthetic", f.synthetic},
                      {"layout", f.source.layout},
                      {"ids", f.source.ids},
                      {"precision", f.source.precision},
                      {"pooled", f.source.pooled}});
  }
  std::string head = header.dump();
  std::string tmp = absl::StrCat(path, ".tmp-", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write cache"));
    auto put = [&](const void* p, size_t n) { out.write(static_cast<const char*>(p), n); };
    put(kCacheMagic, sizeof(kCacheMagic));
    uint64_t sizes[3] = {head.size(), data.x.rows(), static_cast<uint64_t>(data.x.dim)};
    put(sizes, sizeof(sizes));
    put(head.data(), head.size());
    for (size_t i = 0; i < data.x.rows(); ++i) {
      int32_t c = data.class_index[i];
      uint32_t len = data.x.ids[i].size();
      put(&c, sizeof(c));
      put(&len, sizeof(len));
      put(data.x.ids[i].data(), len);
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
  char magic[sizeof(kCacheMagic)] = {};
  get(magic, sizeof(magic));
  uint64_t sizes[3] = {};
  get(sizes, sizeof(sizes));
  if (!in || std::string(magic) != kCacheMagic || sizes[2] != static_cast<uint64_t>(dim)) {
    return absl::DataLossError(absl::StrCat(path, ": not a cache file of this version"));
  }
  std::string head(sizes[0], '\0');
  get(head.data(), head.size());
  Dataset data;
  auto header = nlohmann::json::parse(head, nullptr, false);
  if (header.is_discarded()) return absl::DataLossError(absl::StrCat(path, ": bad header"));
  for (const auto& f : header) {
    data.files.push_back({f["class"],
                          f["path"],
                          f["sha256"],
                          f["count"],
                          f["synthetic"],
                          {f["layout"], f["ids"], f["precision"], f["pooled"]}});
  }
  data.x.dim = dim;
  data.x.ids.resize(sizes[1]);
  data.class_index.resize(sizes[1]);
  for (uint64_t i = 0; i < sizes[1]; ++i) {
    int32_t c;
    uint32_t len;
    get(&c, sizeof(c));
    get(&len, sizeof(len));
    data.class_index[i] = c;
    data.x.ids[i].resize(len);
    get(data.x.ids[i].data(), len);
  }
  data.x.values.resize(sizes[1] * dim);
  get(data.x.values.data(), data.x.values.size() * sizeof(float));
  if (!in) return absl::DataLossError(absl::StrCat(path, ": truncated cache"));
  return data;
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

absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options) {
  if (!fs::is_directory(options.dir)) {
    return absl::NotFoundError(absl::StrCat("data directory '", options.dir, "' does not exist"));
  }
  // Resolve files in class order; hash them for the cache key and the model card.
  Dataset data;
  const auto& classes = ClassNames();
  std::string key_material =
      absl::StrCat("dim=", options.dim, ";pool=", options.pool_residues, ";");
  // The id map's contents decide the ids, so they are part of the key.
  for (const std::string& map_file : {options.id_map, options.fasta}) {
    if (map_file.empty()) continue;
    ARG_ASSIGN_OR_RETURN(std::string sha, Sha256File(map_file));
    absl::StrAppend(&key_material, "ids=", sha, ";");
  }
  for (const auto& [cls, pattern] : options.class_files) {
    if (std::find(classes.begin(), classes.end(), cls) == classes.end()) {
      return absl::InvalidArgumentError(absl::StrCat("data.classes: unknown class '", cls, "'"));
    }
  }
  for (const std::string& cls : classes) {
    auto it = options.class_files.find(cls);
    if (it == options.class_files.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("data.classes: no file given for '", cls, "'"));
    }
    ARG_ASSIGN_OR_RETURN(std::vector<std::string> paths, MatchFiles(options.dir, it->second, cls));
    for (const std::string& path : paths) {
      ARG_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
      data.files.push_back({cls, path, sha, 0, false, {}});
      absl::StrAppend(&key_material, cls, "=", fs::path(path).filename().string(), ":", sha, ";");
    }
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

  // Parse every file; ids must be unique across all files.
  ARG_ASSIGN_OR_RETURN(std::unique_ptr<IdMap> id_map, LoadIdMap(options.id_map, options.fasta));
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
        return absl::InvalidArgumentError(absl::StrCat("protein id '", id, "' appears in both ",
                                                       other.path, " (", other.class_name, ") and ",
                                                       file.path, " (", file.class_name, ")"));
      }
    }
    file.count = static_cast<int64_t>(m.rows());
    if (auto attrs = ReadRootAttributesH5(file.path); attrs.ok()) {  // HDF5 files only
      auto s = attrs->find("synthetic");
      file.synthetic = s != attrs->end() && s->second == "true";
    }
    int cls =
        static_cast<int>(std::find(ClassNames().begin(), ClassNames().end(), file.class_name) -
                         ClassNames().begin());
    data.class_index.insert(data.class_index.end(), m.rows(), cls);
    data.x.Append(m);
  }
  data.x.dim = options.dim;
  if (use_cache) {
    if (absl::Status s = WriteCache(cache_path, data); !s.ok()) {
      std::fprintf(stderr, "warning: processed cache not written: %s\n", s.ToString().c_str());
    }
  }
  return data;
}

std::vector<int> TaskLabels(const Dataset& data, const std::string& task) {
  const int non_bl = static_cast<int>(ClassNames().size()) - 1;
  std::vector<int> labels(data.class_index.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    labels[i] = task == "binary" ? (data.class_index[i] == non_bl ? 0 : 1) : data.class_index[i];
  }
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
  out << "Data report" << (data.from_cache ? " (processed cache hit, HDF5 parsing skipped)" : "")
      << "\n";
  out << "  dimension " << data.x.dim << ", " << data.x.rows()
      << " embeddings, all finite (no NaN/Inf), no duplicate ids"
      << (data.synthetic() ? ", SYNTHETIC data (gen-data)" : "") << "\n";
  for (const auto& f : data.files) {
    out << "  " << std::left << std::setw(18) << f.class_name << std::right << std::setw(7)
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
  for (size_t c = 0; c < ClassNames().size(); ++c) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < data.class_index.size(); ++i) {
      if (data.class_index[i] == static_cast<int>(c)) rows.push_back(i);
    }
    line(ClassNames()[c], rows);
  }
  line("all", all);
}

}  // namespace arginator::trainer
