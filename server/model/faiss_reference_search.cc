#include "server/model/faiss_reference_search.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/embedding_matrix.h"

namespace arginator::server {
namespace {

// The k best (cosine, reference) pairs seen, most similar first; a tie goes to the lower index,
// so the order never depends on the scan order.
class TopK {
 public:
  TopK(int k, int64_t* indices, float* cosines) : k_(k), indices_(indices), cosines_(cosines) {
    std::fill_n(indices_, k_, -1);
    std::fill_n(cosines_, k_, 0.0f);
  }
  void Offer(float cosine, int64_t index) {
    if (size_ == k_ && !Better(cosine, index, cosines_[k_ - 1], indices_[k_ - 1])) return;
    int i = size_ < k_ ? size_++ : k_ - 1;
    for (; i > 0 && Better(cosine, index, cosines_[i - 1], indices_[i - 1]); --i) {
      cosines_[i] = cosines_[i - 1];
      indices_[i] = indices_[i - 1];
    }
    cosines_[i] = cosine;
    indices_[i] = index;
  }

 private:
  static bool Better(float c, int64_t i, float other_c, int64_t other_i) {
    return c > other_c || (c == other_c && i < other_i);
  }
  const int k_;
  int64_t* indices_;
  float* cosines_;
  int size_ = 0;
};

// Both searches compare vectors with RowDot (16 float lanes, SIMD). FAISS as Debian builds it
// (x86-64 baseline) compares them one float at a time, ~4x slower per query here; RowDot adds its
// lanes in one fixed order, so a row's cosines never depend on the other rows searched with it
// (FAISS switches to BLAS from 20 rows, which rounds differently).

// Every reference compared (the trainer's IndexFlatIP).
class ExactSearch : public ReferenceSearch {
 public:
  ExactSearch(std::vector<float> vectors, int dim) : vectors_(std::move(vectors)), dim_(dim) {}

  void Search(RowsView rows, int k, int64_t* indices, float* cosines) const override {
    const int64_t n = static_cast<int64_t>(vectors_.size()) / dim_;
    for (int64_t r = 0; r < rows.rows; ++r) {
      TopK top(k, indices + r * k, cosines + r * k);
      for (int64_t i = 0; i < n; ++i) top.Offer(RowDot(rows.row(r), &vectors_[i * dim_], dim_), i);
    }
  }

 private:
  const std::vector<float> vectors_;
  const int dim_;
};

// The trainer's IndexIVFFlat: the `nprobe` cells whose centroids are nearest, every reference in
// them compared. The same cells and references FAISS would scan, so the same answers.
class InvertedFileSearch : public ReferenceSearch {
 public:
  struct Cell {
    std::vector<float> vectors;
    std::vector<int64_t> ids;
  };
  InvertedFileSearch(std::vector<float> centroids, std::vector<Cell> cells, int nprobe, int dim)
      : centroids_(std::move(centroids)), cells_(std::move(cells)), nprobe_(nprobe), dim_(dim) {}

  void Search(RowsView rows, int k, int64_t* indices, float* cosines) const override {
    std::vector<int64_t> probe(static_cast<size_t>(nprobe_));
    std::vector<float> probe_score(static_cast<size_t>(nprobe_));
    for (int64_t r = 0; r < rows.rows; ++r) {
      const float* row = rows.row(r);
      TopK nearest_cells(nprobe_, probe.data(), probe_score.data());
      for (size_t c = 0; c < cells_.size(); ++c) {
        nearest_cells.Offer(RowDot(row, &centroids_[c * dim_], dim_), static_cast<int64_t>(c));
      }
      TopK top(k, indices + r * k, cosines + r * k);
      for (int64_t c : probe) {
        if (c < 0) continue;
        const Cell& cell = cells_[static_cast<size_t>(c)];
        for (size_t i = 0; i < cell.ids.size(); ++i) {
          top.Offer(RowDot(row, &cell.vectors[i * dim_], dim_), cell.ids[i]);
        }
      }
    }
  }

 private:
  const std::vector<float> centroids_;
  const std::vector<Cell> cells_;
  const int nprobe_;
  const int dim_;
};

// Any other index FAISS reads (an HNSW graph from an earlier trainer): FAISS's own search.
class FaissSearch : public ReferenceSearch {
 public:
  explicit FaissSearch(std::unique_ptr<faiss::Index> index) : index_(std::move(index)) {}

  void Search(RowsView rows, int k, int64_t* indices, float* cosines) const override {
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t));
    index_->search(rows.rows, rows.data, k, cosines,
                   reinterpret_cast<faiss::Index::idx_t*>(indices));
  }

 private:
  const std::unique_ptr<faiss::Index> index_;
};

std::vector<float> FlatVectors(const faiss::IndexFlat& flat) {
  const float* xb = flat.get_xb();
  return std::vector<float>(xb, xb + flat.ntotal * flat.d);
}

absl::StatusOr<std::unique_ptr<ReferenceSearch>> FromFaiss(std::unique_ptr<faiss::Index> index,
                                                           const std::string& path) {
  if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(index.get())) {
    return std::unique_ptr<ReferenceSearch>(new ExactSearch(FlatVectors(*flat), flat->d));
  }
  const auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(index.get());
  if (ivf == nullptr) return std::unique_ptr<ReferenceSearch>(new FaissSearch(std::move(index)));
  const auto* quantizer = dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer);
  if (quantizer == nullptr || ivf->invlists == nullptr ||
      quantizer->ntotal != static_cast<faiss::Index::idx_t>(ivf->nlist)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": an inverted file arginator-train did not write (its coarse "
                     "quantizer is not a flat index of one centroid per cell)"));
  }
  std::vector<InvertedFileSearch::Cell> cells(ivf->nlist);
  for (size_t c = 0; c < ivf->nlist; ++c) {
    const size_t size = ivf->invlists->list_size(c);
    faiss::InvertedLists::ScopedCodes codes(ivf->invlists, c);
    faiss::InvertedLists::ScopedIds ids(ivf->invlists, c);
    cells[c].vectors.resize(size * ivf->d);
    std::memcpy(cells[c].vectors.data(), codes.get(), size * ivf->d * sizeof(float));
    cells[c].ids.assign(ids.get(), ids.get() + size);
    for (int64_t id : cells[c].ids) {
      if (id < 0 || id >= ivf->ntotal) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": cell ", c, " names reference ", id, " of ", ivf->ntotal));
      }
    }
  }
  const int nprobe = static_cast<int>(std::clamp<size_t>(ivf->nprobe, 1, ivf->nlist));
  return std::unique_ptr<ReferenceSearch>(
      new InvertedFileSearch(FlatVectors(*quantizer), std::move(cells), nprobe, ivf->d));
}

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
  return FromFaiss(std::move(index), path);
}

}  // namespace arginator::server
