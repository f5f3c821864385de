#include "trainer/reference_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/index_io.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace arginator::trainer {

absl::StatusOr<nlohmann::json> WriteReferenceIndex(const std::string& dir, const EmbeddingMatrix& x,
                                                   const std::vector<size_t>& rows,
                                                   const std::vector<std::string>& row_labels) {
  namespace fs = std::filesystem;
  const auto start = std::chrono::steady_clock::now();
  const int dim = x.dim;
  std::vector<float> unit(rows.size() * static_cast<size_t>(dim));
  std::string table = "id\tlabel\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* row = x.row(rows[i]);
    const double norm = RowL2Norm(row, dim);
    const double scale = norm > 0 ? 1.0 / norm : 0.0;
    for (int j = 0; j < dim; ++j) unit[i * dim + j] = static_cast<float>(row[j] * scale);
    absl::StrAppend(&table, x.ids[rows[i]], "\t", row_labels[i], "\n");
  }
  const bool exact = rows.size() <= kExactReferenceLimit;
  std::unique_ptr<faiss::Index> index;
  if (exact) {
    index = std::make_unique<faiss::IndexFlatIP>(dim);
  } else {
    auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(dim, 32, faiss::METRIC_INNER_PRODUCT);
    hnsw->hnsw.efSearch = 128;
    index = std::move(hnsw);
  }
  index->add(static_cast<faiss::Index::idx_t>(rows.size()), unit.data());
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
  return nlohmann::json{
      {"file", kReferenceIndexFile},
      {"sha256", index_sha},
      {"table_file", kReferenceTableFile},
      {"table_sha256", table_sha},
      {"count", rows.size()},
      {"proteins", "the training split, L2-normalised (inner product = cosine similarity)"},
      {"index", exact ? "IndexFlatIP: exact, every reference compared"
                      : "IndexHNSWFlat (M 32, efSearch 128): approximate"},
      {"bytes", static_cast<int64_t>(fs::file_size(index_path))},
      {"build_seconds", seconds}};
}

}  // namespace arginator::trainer
