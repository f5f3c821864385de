#include "trainer/similarity_groups.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/AuxIndexStructures.h>

#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace arginator::trainer {
namespace {

size_t Find(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

std::vector<float> NormalisedRows(const EmbeddingMatrix& x, const std::vector<size_t>& rows) {
  std::vector<float> out(rows.size() * x.dim);
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* row = x.row(rows[i]);
    const double norm = RowL2Norm(row, x.dim);
    for (int j = 0; j < x.dim; ++j) {
      out[i * x.dim + j] = norm > 0 ? static_cast<float>(row[j] / norm) : 0.0f;
    }
  }
  return out;
}

std::vector<std::string> SimilarityGroups(const EmbeddingMatrix& x, double threshold) {
  const size_t n = x.rows();
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), size_t{0});
  const std::vector<float> unit = NormalisedRows(x, all);
  faiss::IndexFlatIP index(x.dim);
  index.add(static_cast<faiss::Index::idx_t>(n), unit.data());
  std::vector<size_t> parent(n);
  std::iota(parent.begin(), parent.end(), size_t{0});
  // Range search returns pairs with inner product above the radius; in blocks of queries so the
  // result lists stay small.
  constexpr size_t kBlock = 1024;
  const float radius = std::nextafter(static_cast<float>(threshold), -1.0f);  // >= threshold
  for (size_t first = 0; first < n; first += kBlock) {
    const size_t count = std::min(kBlock, n - first);
    faiss::RangeSearchResult result(static_cast<faiss::Index::idx_t>(count));
    index.range_search(static_cast<faiss::Index::idx_t>(count), unit.data() + first * x.dim, radius,
                       &result);
    for (size_t q = 0; q < count; ++q) {
      for (size_t k = result.lims[q]; k < result.lims[q + 1]; ++k) {
        const size_t a = Find(parent, first + q), b = Find(parent, result.labels[k]);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);  // the root is the first row
      }
    }
  }
  std::vector<std::string> groups(n);
  for (size_t i = 0; i < n; ++i) groups[i] = absl::StrCat("similar-", Find(parent, i));
  return groups;
}

TrainTestSimilarity NearestTrainTestSimilarity(const EmbeddingMatrix& x,
                                               const SplitIndices& split) {
  TrainTestSimilarity out;
  if (split.train.empty() || split.test.empty()) return out;
  const std::vector<float> train = NormalisedRows(x, split.train);
  const std::vector<float> test = NormalisedRows(x, split.test);
  faiss::IndexFlatIP index(x.dim);
  index.add(static_cast<faiss::Index::idx_t>(split.train.size()), train.data());
  std::vector<float> similarity(split.test.size());
  std::vector<faiss::Index::idx_t> nearest(split.test.size());
  index.search(static_cast<faiss::Index::idx_t>(split.test.size()), test.data(), 1,
               similarity.data(), nearest.data());
  out.max = -1;
  double sum = 0;
  for (size_t i = 0; i < split.test.size(); ++i) {
    sum += similarity[i];
    if (similarity[i] > out.max) {
      out.max = similarity[i];
      out.test_id = x.ids[split.test[i]];
      out.train_id = x.ids[split.train[nearest[i]]];
    }
  }
  out.mean = sum / static_cast<double>(split.test.size());
  return out;
}

}  // namespace arginator::trainer
