// The server's search over the reference indexes arginator-train writes
// (server/model/faiss_reference_search.h): the same nearest references as FAISS's own search of
// the same file, for the exact and the inverted-file index, and a row's answer the same alone as
// among other rows.
#include "server/model/faiss_reference_search.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/testing/temp_dir.h"

namespace arginator::server {
namespace {

constexpr int kDim = 64;

// Unit rows around 30 centres, like embeddings of protein families.
std::vector<float> UnitRows(size_t n, uint32_t seed) {
  std::mt19937 centre_rng(3), rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(30 * kDim);
  for (float& v : centres) v = normal(centre_rng);
  std::vector<float> x(n * kDim);
  for (size_t i = 0; i < n; ++i) {
    const size_t family = rng() % 30;
    double norm = 0;
    for (int j = 0; j < kDim; ++j) {
      x[i * kDim + j] = centres[family * kDim + j] + 0.7f * normal(rng);
      norm += x[i * kDim + j] * x[i * kDim + j];
    }
    for (int j = 0; j < kDim; ++j) x[i * kDim + j] /= static_cast<float>(std::sqrt(norm));
  }
  return x;
}

void ExpectSameAsFaiss(faiss::Index& index, const std::string& path) {
  const std::vector<float> queries = UnitRows(200, 99);
  constexpr int k = 5;
  std::vector<float> faiss_cos(200 * k), ours_cos(200 * k);
  std::vector<faiss::Index::idx_t> faiss_ids(200 * k);
  std::vector<int64_t> ours_ids(200 * k);
  // One query at a time: FAISS's per-query path (it changes to BLAS from 20 rows).
  for (int q = 0; q < 200; ++q) {
    index.search(1, &queries[q * kDim], k, &faiss_cos[q * k], &faiss_ids[q * k]);
  }
  faiss::write_index(&index, path.c_str());
  auto search = OpenFaissReferenceSearch(path, kDim, index.ntotal);
  ASSERT_TRUE(search.ok()) << search.status();
  (*search)->Search(RowsView(queries.data(), 200, kDim), k, ours_ids.data(), ours_cos.data());
  for (int i = 0; i < 200 * k; ++i) {
    EXPECT_EQ(ours_ids[i], faiss_ids[i]) << "query " << i / k << " rank " << i % k;
    EXPECT_NEAR(ours_cos[i], faiss_cos[i], 1e-5);
  }
  // Each row alone: bit for bit what it got among 199 others.
  for (int q = 0; q < 200; q += 37) {
    std::vector<int64_t> ids(k);
    std::vector<float> cos(k);
    (*search)->Search(RowsView(&queries[q * kDim], 1, kDim), k, ids.data(), cos.data());
    for (int r = 0; r < k; ++r) {
      EXPECT_EQ(ids[r], ours_ids[q * k + r]);
      EXPECT_EQ(cos[r], ours_cos[q * k + r]);
    }
  }
}

TEST(FaissReferenceSearchTest, ExactIndexFindsWhatFaissFinds) {
  testing::TempDir dir;
  const std::vector<float> refs = UnitRows(3000, 1);
  faiss::IndexFlatIP flat(kDim);
  flat.add(3000, refs.data());
  ExpectSameAsFaiss(flat, dir.Join("exact.faiss"));
}

TEST(FaissReferenceSearchTest, InvertedFileScansTheCellsFaissScans) {
  testing::TempDir dir;
  const std::vector<float> refs = UnitRows(6000, 2);
  faiss::IndexFlatIP quantizer(kDim);
  faiss::IndexIVFFlat ivf(&quantizer, kDim, 64, faiss::METRIC_INNER_PRODUCT);
  ivf.train(6000, refs.data());
  ivf.add(6000, refs.data());
  ivf.nprobe = 4;
  ExpectSameAsFaiss(ivf, dir.Join("ivf.faiss"));
}

TEST(FaissReferenceSearchTest, AnyOtherIndexIsSearchedByFaiss) {
  // An HNSW graph, which the trainer wrote above 16,384 references before the inverted file.
  testing::TempDir dir;
  const std::vector<float> refs = UnitRows(500, 5);
  faiss::IndexHNSWFlat hnsw(kDim, 16, faiss::METRIC_INNER_PRODUCT);
  hnsw.add(500, refs.data());
  faiss::write_index(&hnsw, dir.Join("hnsw.faiss").c_str());
  auto search = OpenFaissReferenceSearch(dir.Join("hnsw.faiss"), kDim, 500);
  ASSERT_TRUE(search.ok()) << search.status();
  int64_t id = -1;
  float cos = 0;
  (*search)->Search(RowsView(&refs[77 * kDim], 1, kDim), 1, &id, &cos);
  EXPECT_EQ(id, 77);
  EXPECT_NEAR(cos, 1.0f, 1e-5);
}

TEST(FaissReferenceSearchTest, FewerReferencesThanAskedForLeaveMinusOne) {
  testing::TempDir dir;
  const std::vector<float> refs = UnitRows(3, 4);
  faiss::IndexFlatIP flat(kDim);
  flat.add(3, refs.data());
  faiss::write_index(&flat, dir.Join("small.faiss").c_str());
  auto search = OpenFaissReferenceSearch(dir.Join("small.faiss"), kDim, 3);
  ASSERT_TRUE(search.ok());
  std::vector<int64_t> ids(5);
  std::vector<float> cos(5);
  (*search)->Search(RowsView(refs.data(), 1, kDim), 5, ids.data(), cos.data());
  EXPECT_EQ(ids[0], 0);
  EXPECT_NEAR(cos[0], 1.0f, 1e-5);
  EXPECT_EQ(ids[3], -1);
  EXPECT_EQ(ids[4], -1);
  // A count or width other than the card's is refused, naming both.
  auto wrong = OpenFaissReferenceSearch(dir.Join("small.faiss"), kDim, 4);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("model.json says 4"), std::string::npos);
}

}  // namespace
}  // namespace arginator::server
