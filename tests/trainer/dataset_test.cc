#include "trainer/dataset.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/embedding_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/embeddings.h"
#include "tests/testing/temp_dir.h"
#include "trainer/config.h"

namespace arginator::trainer {
namespace {

using ::testing::HasSubstr;
using testing::MakeMatrix;
using testing::TempDir;
using testing::WriteClassFiles;

DatasetOptions OptionsFor(const std::string& dir) {
  DatasetOptions options;
  options.dir = dir;
  options.class_files = LoadTrainConfig("", {})->data.class_files;
  return options;
}

TEST(DatasetTest, LoadsEveryClassWithItsIndex) {
  TempDir dir;
  WriteClassFiles(dir.path(), 6);
  auto data = LoadDataset(OptionsFor(dir.path()));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->x.rows(), 30u);
  for (int c = 0; c < 5; ++c) EXPECT_EQ(data->CountOfClass(c), 6);
  EXPECT_EQ(data->files.size(), 5u);
  EXPECT_EQ(data->files[0].sha256.size(), 64u);
  EXPECT_FALSE(data->from_cache);
}

TEST(DatasetTest, BinaryLabelsDeriveFromClasses) {
  TempDir dir;
  WriteClassFiles(dir.path(), 2);
  auto data = LoadDataset(OptionsFor(dir.path()));
  ASSERT_TRUE(data.ok());
  std::vector<int> binary = RowLabels(*data, *MakeLabelScheme("binary", data->class_names));
  std::vector<int> multi = RowLabels(*data, *MakeLabelScheme("multiclass", data->class_names));
  for (size_t i = 0; i < binary.size(); ++i) {
    EXPECT_EQ(binary[i], data->class_index[i] == 4 ? 0 : 1);
    EXPECT_EQ(multi[i], data->class_index[i]);
  }
}

// Issue 25: the trainer reads what the clients read (any format, ids renamed by data.id_map),
// and the data report and the cache carry each file's layout.
TEST(DatasetTest, ClassFilesInAnyFormatWithAnIdMapGiveTheMappedIds) {
  TempDir dir;
  WriteClassFiles(dir.path(), 2);
  ASSERT_TRUE(WriteEmbeddingsCsv(dir.Join("class_a.csv"), MakeMatrix("A_", 2)).ok());
  std::string table = "key\tid\n";
  for (const char* prefix : {"A_", "B_", "C_", "D_", "N_"}) {
    for (int i = 0; i < 2; ++i) absl::StrAppend(&table, prefix, i, "\tWP_", prefix, i, ".1\n");
  }
  std::ofstream(dir.Join("ids.tsv")) << table;
  DatasetOptions options = OptionsFor(dir.path());
  options.class_files["class_A"] = "class_a.csv";
  options.id_map = dir.Join("ids.tsv");
  for (bool cached : {false, true}) {
    auto data = LoadDataset(options);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(data->from_cache, cached);
    EXPECT_EQ(data->x.ids[0], "WP_A_0.1");
    EXPECT_EQ(data->files[0].source.layout, "CSV");
    EXPECT_EQ(data->files[1].source.ids, "dataset names -> " + dir.Join("ids.tsv"));
    std::ostringstream report;
    PrintDataReport(*data, report);
    EXPECT_THAT(report.str(), HasSubstr("CSV, text; ids from first column -> "));
  }
  std::ofstream(dir.Join("ids.tsv")) << "key\tid\nA_0\tWP_A_0.1\n";  // a new map misses the cache
  EXPECT_THAT(LoadDataset(options).status().message(), HasSubstr("ids are not in"));
}

TEST(DatasetTest, SameProteinInTwoClassesNamesBothFiles) {
  TempDir dir;
  WriteClassFiles(dir.path(), 4);
  // class B's file now also holds A_1.
  EmbeddingMatrix b = MakeMatrix("B_", 3);
  b.Append(MakeMatrix("A_", 2));
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("card_class_b_embeddings.h5"), b).ok());
  auto data = LoadDataset(OptionsFor(dir.path()));
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(data.status().message(), HasSubstr("'A_0'"));
  EXPECT_THAT(data.status().message(), HasSubstr("card_class_a_embeddings.h5"));
  EXPECT_THAT(data.status().message(), HasSubstr("card_class_b_embeddings.h5"));
}

TEST(DatasetTest, MissingClassFileIsNamed) {
  TempDir dir;
  WriteClassFiles(dir.path(), 3);
  std::filesystem::remove(dir.Join("card_class_c_embeddings.h5"));
  auto data = LoadDataset(OptionsFor(dir.path()));
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), HasSubstr("class_C"));
  EXPECT_THAT(data.status().message(), HasSubstr("card_class_c_embeddings.h5"));
}

TEST(DatasetTest, BadFileFailsTheWholeLoad) {
  TempDir dir;
  WriteClassFiles(dir.path(), 3);
  ASSERT_TRUE(
      WriteEmbeddingsH5(dir.Join("card_class_d_embeddings.h5"), MakeMatrix("D_", 2, 100)).ok());
  auto data = LoadDataset(OptionsFor(dir.path()));
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(data.status().message(), HasSubstr("card_class_d_embeddings.h5"));
  EXPECT_THAT(data.status().message(), HasSubstr("D_0"));
}

TEST(DatasetTest, GlobPicksUpSeveralFilesForOneClass) {
  TempDir dir;
  WriteClassFiles(dir.path(), 3);
  ASSERT_TRUE(
      WriteEmbeddingsH5(dir.Join("non_betalactamase_embeddings_extra.h5"), MakeMatrix("X_", 4))
          .ok());
  auto data = LoadDataset(OptionsFor(dir.path()));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->CountOfClass(4), 7);
}

TEST(DatasetTest, SecondLoadHitsTheCacheAndAChangedFileInvalidatesIt) {
  TempDir dir;
  WriteClassFiles(dir.path(), 5);
  auto first = LoadDataset(OptionsFor(dir.path()));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->from_cache);
  auto second = LoadDataset(OptionsFor(dir.path()));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(second->x.ids, first->x.ids);
  EXPECT_EQ(second->x.values, first->x.values);
  EXPECT_EQ(second->class_index, first->class_index);

  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("card_class_a_embeddings.h5"), MakeMatrix("A_", 8)).ok());
  auto third = LoadDataset(OptionsFor(dir.path()));
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->from_cache);
  EXPECT_EQ(third->CountOfClass(0), 8);
  EXPECT_NE(third->cache_key, first->cache_key);
}

}  // namespace
}  // namespace arginator::trainer
