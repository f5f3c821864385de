// The reference index a version carries (trainer/reference_index.h): exact up to the limit, an
// inverted file above it whose nprobe reaches the target recall on the probe rows, and both read
// back by FAISS as the server reads them.
#include "trainer/reference_index.h"

#include <faiss/Index.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "tests/testing/temp_dir.h"

namespace arginator::trainer {
namespace {

// `n` rows of width 64 around 40 centres (families), like embeddings of related proteins.
EmbeddingMatrix Clustered(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  EmbeddingMatrix x;
  x.dim = 64;
  std::mt19937 centre_rng(7);  // the same families for every sample
  std::vector<float> centres(40 * 64);
  for (float& v : centres) v = normal(centre_rng);
  for (size_t i = 0; i < n; ++i) {
    const size_t family = rng() % 40;
    for (int j = 0; j < 64; ++j) x.values.push_back(centres[family * 64 + j] + 0.6f * normal(rng));
    x.ids.push_back(absl::StrCat("p", seed, "_", i));
  }
  return x;
}

std::vector<size_t> Range(size_t from, size_t to) {
  std::vector<size_t> r;
  for (size_t i = from; i < to; ++i) r.push_back(i);
  return r;
}

TEST(ReferenceIndexTest, AboveTheExactLimitAnInvertedFileReachesTheTargetRecall) {
  testing::TempDir dir;
  const EmbeddingMatrix x = Clustered(5000, 1);
  const std::vector<size_t> references = Range(0, 4500), probes = Range(4500, 5000);
  const std::vector<std::string> labels(references.size(), "class_A");
  ReferenceIndexOptions options;
  options.exact_limit = 1000;
  options.target_recall = 0.95;
  auto card = WriteReferenceIndex(dir.path(), x, references, labels, probes, options);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_NE((*card)["index"].get<std::string>().find("IndexIVFFlat"), std::string::npos);
  EXPECT_EQ((*card)["cells"], 115);  // 4 sqrt(4500) = 268 cells, but at least 39 rows per cell
  const int64_t nprobe = (*card)["nprobe"];
  EXPECT_EQ(nprobe & (nprobe - 1), 0) << "a power of two";
  EXPECT_GE((*card)["recall_at_1"]["value"].get<double>(), 0.95);
  EXPECT_EQ((*card)["count"], 4500);

  // FAISS reads it back, and a reference finds itself.
  std::unique_ptr<faiss::Index> index(
      faiss::read_index((dir.path() + "/references.faiss").c_str()));
  EXPECT_EQ(index->ntotal, 4500);
  std::vector<float> query(x.row(123), x.row(123) + 64);
  double norm = 0;
  for (float v : query) norm += v * v;
  for (float& v : query) v = static_cast<float>(v / std::sqrt(norm));
  float cosine = 0;
  faiss::Index::idx_t nearest = -1;
  index->search(1, query.data(), 1, &cosine, &nearest);
  EXPECT_EQ(nearest, 123);
  EXPECT_NEAR(cosine, 1.0f, 1e-5);
}

TEST(ReferenceIndexTest, UpToTheLimitEveryReferenceIsCompared) {
  testing::TempDir dir;
  const EmbeddingMatrix x = Clustered(600, 2);
  const std::vector<std::string> labels(500, "class_B");
  auto card = WriteReferenceIndex(dir.path(), x, Range(0, 500), labels, Range(500, 600));
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ((*card)["index"], "IndexFlatIP: exact, every reference compared");
  EXPECT_FALSE(card->contains("recall_at_1"));
}

}  // namespace
}  // namespace arginator::trainer
