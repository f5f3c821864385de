#include "trainer/reference_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "trainer/similarity_groups.h"

namespace arginator::trainer {

namespace {

// An inverted file over `unit` whose nprobe is the smallest power of two reaching the target
// recall@1 on `probes` against exact search; `card` gets its parameters and measured recall.
std::unique_ptr<faiss::Index> BuildInvertedFile(const float* unit, size_t n, int dim,
                                                const std::vector<float>& probes,
                                                const ReferenceIndexOptions& options,
                                                nlohmann::json& card) {
  // 4 sqrt(n) cells (FAISS's guidance: 4-16 sqrt(n)), each trained on at least 39 points.
  const size_t cells = std::clamp<size_t>(
      static_cast<size_t>(4 * std::sqrt(static_cast<double>(n))), 1, std::max<size_t>(1, n / 39));
  auto quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
  auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dim, cells,
                                                   faiss::METRIC_INNER_PRODUCT);
  ivf->own_fields = true;
  quantizer.release();
  ivf->cp.seed = 1234;  // the same cells for the same references
  ivf->train(static_cast<faiss::Index::idx_t>(n), unit);
  ivf->add(static_cast<faiss::Index::idx_t>(n), unit);

  const size_t q = probes.size() / static_cast<size_t>(dim);
  std::vector<float> distances(q);
  std::vector<faiss::Index::idx_t> truth(q), found(q);
  faiss::knn_inner_product(probes.data(), unit, dim, q, n, 1, distances.data(), truth.data());
  double recall = 1;
  ivf->nprobe = 1;
  for (;;) {
    if (q > 0) {
      ivf->search(static_cast<faiss::Index::idx_t>(q), probes.data(), 1, distances.data(),
                  found.data());
      size_t same = 0;
      for (size_t i = 0; i < q; ++i) same += found[i] == truth[i];
      recall = static_cast<double>(same) / static_cast<double>(q);
    }
    if (recall >= options.target_recall || ivf->nprobe >= cells) break;
    ivf->nprobe = std::min(cells, ivf->nprobe * 2);
  }
  card["index"] = absl::StrFormat(
      "IndexIVFFlat: approximate, %d k-means cells, each query scans the %d nearest", cells,
      ivf->nprobe);
  card["cells"] = cells;
  card["nprobe"] = ivf->nprobe;
  card["recall_at_1"] = {{"value", recall},
                         {"target", options.target_recall},
                         {"measured_on", absl::StrCat(q,
                                                      " validation proteins (not references), "
                                                      "against exact search")}};
  return ivf;
}

}  // namespace

absl::StatusOr<nlohmann::json> WriteReferenceIndex(const std::string& dir, const EmbeddingMatrix& x,
                                                   const std::vector<size_t>& rows,
                                                   const std::vector<std::string>& row_labels,
                                                   const std::vector<size_t>& probe_rows,
                                                   const ReferenceIndexOptions& options) {
  namespace fs = std::filesystem;
  const auto start = std::chrono::steady_clock::now();
  const int dim = x.dim;
  const std::vector<float> unit = NormalisedRows(x, rows);
  std::string table = "id\tlabel\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    absl::StrAppend(&table, x.ids[rows[i]], "\t", row_labels[i], "\n");
  }
  nlohmann::json card = nlohmann::json::object();
  std::unique_ptr<faiss::Index> index;
  if (rows.size() <= options.exact_limit) {
    index = std::make_unique<faiss::IndexFlatIP>(dim);
    index->add(static_cast<faiss::Index::idx_t>(rows.size()), unit.data());
    card["index"] = "IndexFlatIP: exact, every reference compared";
  } else {
    std::vector<size_t> probes(
        probe_rows.begin(),
        probe_rows.begin() + std::min(probe_rows.size(), options.max_probe_rows));
    try {
      index = BuildInvertedFile(unit.data(), rows.size(), dim, NormalisedRows(x, probes), options,
                                card);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("FAISS could not build the reference index of ",
                                              rows.size(), " proteins: ", e.what()));
    }
  }
  const std::string index_path = (fs::path(dir) / kReferenceIndexFile).string();
  const std::string table_path = (fs::path(dir) / kReferenceTableFile).string();
  try {
    faiss::write_index(index.get(), index_path.c_str());
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(index_path, ": FAISS could not write the index: ", e.what()));
  }
  ARG_RETURN_IF_ERROR(WriteFileDurably(table_path, table));
  ARG_ASSIGN_OR_RETURN(std::string index_sha, Sha256File(index_path));
  ARG_ASSIGN_OR_RETURN(std::string table_sha, Sha256File(table_path));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  card.update(nlohmann::json{
      {"file", kReferenceIndexFile},
      {"sha256", index_sha},
      {"table_file", kReferenceTableFile},
      {"table_sha256", table_sha},
      {"count", rows.size()},
      {"proteins", "the training split, L2-normalised (inner product = cosine similarity)"},
      {"bytes", static_cast<int64_t>(fs::file_size(index_path))},
      {"build_seconds", seconds}});
  return card;
}

}  // namespace arginator::trainer
