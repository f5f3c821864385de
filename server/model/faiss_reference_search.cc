#include "server/model/faiss_reference_search.h"

#include <faiss/Index.h>
#include <faiss/index_io.h>

#include "absl/strings/str_cat.h"

namespace arginator::server {
namespace {

class FaissReferenceSearch : public ReferenceSearch {
 public:
  explicit FaissReferenceSearch(std::unique_ptr<faiss::Index> index) : index_(std::move(index)) {}

  void Search(RowsView rows, int k, int64_t* indices, float* cosines) const override {
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t));
    index_->search(rows.rows, rows.data, k, cosines,
                   reinterpret_cast<faiss::Index::idx_t*>(indices));
  }

 private:
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ReferenceSearch>> OpenFaissReferenceSearch(const std::string& path,
                                                                          int dim, int64_t count) {
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(path.c_str()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a FAISS index FAISS can read: ", e.what()));
  }
  if (index->metric_type != faiss::METRIC_INNER_PRODUCT || index->d != dim ||
      index->ntotal != count) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a FAISS index of ", index->ntotal, " vectors of ", index->d,
                     " (metric ", static_cast<int>(index->metric_type), "); model.json says ",
                     count, " of ", dim, " by inner product"));
  }
  return std::unique_ptr<ReferenceSearch>(new FaissReferenceSearch(std::move(index)));
}

}  // namespace arginator::server
