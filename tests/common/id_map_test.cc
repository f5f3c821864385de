#include "common/id_map.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.Join(name)) << text;
  return dir.Join(name);
}

EmbeddingMatrix WithIds(std::vector<std::string> ids) {
  EmbeddingMatrix m;
  m.dim = 1;
  m.values.assign(ids.size(), 1.0f);
  m.ids = std::move(ids);
  return m;
}

// A FASTA record answers to its id, its header, ProtTrans' key (header with '/' and '.' made '_')
// and bio_embeddings' key (md5 of the sequence: md5("MKVLA") is 78f24a5d...).
TEST(IdMapTest, AFastaRecoversTheIdFromEveryEmbeddersKey) {
  TempDir dir;
  auto map = IdMap::FromFasta(Write(dir, "p.fasta",
                                    ">WP_000027057.1 TEM-1 beta/lactamase\r\nMKV\nLA\n\n"
                                    ">sp|P62593|BLAT_ECOLX\nMSIQ\n"));
  ASSERT_TRUE(map.ok()) << map.status();
  EmbeddingMatrix m = WithIds({"WP_000027057_1 TEM-1 beta_lactamase",
                               "78f24a5d046064dc4f4b7bf0b4386891", "sp|P62593|BLAT_ECOLX"});
  EXPECT_THAT(map->Apply("in.h5", m, nullptr).message(), HasSubstr("both map to 'WP_000027057.1'"));
  m = WithIds({"78f24a5d046064dc4f4b7bf0b4386891", "sp|P62593|BLAT_ECOLX"});
  EmbeddingSource source{"x", "dataset names", "float32", 0};
  ASSERT_TRUE(map->Apply("in.h5", m, &source).ok());
  EXPECT_THAT(m.ids, ElementsAre("WP_000027057.1", "sp|P62593|BLAT_ECOLX"));
  EXPECT_EQ(source.ids, "dataset names -> " + dir.Join("p.fasta"));
  m = WithIds({"WP_000027057_1 TEM-1 beta_lactamase"});
  ASSERT_TRUE(map->Apply("in.h5", m, nullptr).ok());
  EXPECT_THAT(m.ids, ElementsAre("WP_000027057.1"));
}

TEST(IdMapTest, UnmappedAndAmbiguousIdsAreErrorsThatNameThem) {
  TempDir dir;
  auto map = IdMap::FromFasta(Write(dir, "p.fasta", ">a.1\nMK\n>a_1\nMK\n"));
  ASSERT_TRUE(map.ok()) << map.status();
  EmbeddingMatrix m = WithIds({"a_1"});  // ProtTrans' key for a.1 and the id of a_1
  EXPECT_THAT(map->Apply("in.h5", m, nullptr).message(),
              HasSubstr("key 'a_1' matches the records 'a.1' and 'a_1'"));
  m = WithIds({"a.1", "x", "y", "z", "w"});
  auto status = map->Apply("in.h5", m, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("in.h5: 4 of 5 ids are not in"));
  EXPECT_THAT(status.message(), HasSubstr("(e.g. 'x', 'y', 'z')"));
  EXPECT_EQ(m.ids[0], "a.1");  // unchanged on error
}

TEST(IdMapTest, ATableMapsKeysAndRefusesBadLines) {
  TempDir dir;
  auto map = IdMap::FromTable(Write(dir, "m.tsv", "key\tid\nk1\tWP_1.1\n\n\"k,2\"\tWP_2.1\n"));
  ASSERT_TRUE(map.ok()) << map.status();
  EmbeddingMatrix m = WithIds({"k,2", "k1"});
  ASSERT_TRUE(map->Apply("in.csv", m, nullptr).ok());
  EXPECT_THAT(m.ids, ElementsAre("WP_2.1", "WP_1.1"));
  EXPECT_THAT(IdMap::FromTable(Write(dir, "a.csv", "k1,a\nk2,b,c\n")).status().message(),
              HasSubstr("line 2 has 3 fields; expected 2 (key, id)"));
  EXPECT_THAT(IdMap::FromTable(Write(dir, "b.csv", "k1,a\nk1,b\n")).status().message(),
              HasSubstr("key 'k1' is mapped twice (line 1: 'a', line 2: 'b')"));
  EXPECT_THAT(IdMap::FromTable(Write(dir, "c.csv", "k1,\n")).status().message(),
              HasSubstr("line 1 has an empty id"));
  EXPECT_EQ(IdMap::FromTable(dir.Join("none.tsv")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(LoadIdMap("a.tsv", "b.fasta").status().message(), HasSubstr("not both"));
  EXPECT_THAT(IdMap::FromFasta(Write(dir, "bad.fasta", "MK\n>a\nMK\n")).status().message(),
              HasSubstr("line 1 comes before the first '>' header"));
}

}  // namespace
}  // namespace arginator
