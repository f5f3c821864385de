// Issue 25: a lab's labels as they usually arrive, one table (id, label[, group]) beside one or
// more embedding files, instead of one file per class.
#include <fstream>

#include "common/embedding_files.h"
#include "common/hdf5_embeddings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/embeddings.h"
#include "tests/testing/temp_dir.h"
#include "trainer/dataset.h"
#include "trainer/labels_table.h"

namespace arginator::trainer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeMatrix;
using testing::TempDir;

// Two embedding files (an HDF5 and a CSV) with P0..P5 and Q0..Q3.
DatasetOptions LabelledData(const TempDir& dir, const std::string& table) {
  EXPECT_TRUE(WriteEmbeddingsH5(dir.Join("run1.h5"), MakeMatrix("P", 6)).ok());
  EXPECT_TRUE(WriteEmbeddingsCsv(dir.Join("run2.csv"), MakeMatrix("Q", 4)).ok());
  std::ofstream(dir.Join("labels.tsv")) << table;
  DatasetOptions options;
  options.dir = dir.path();
  options.cache_dir = "-";
  options.labels = "labels.tsv";
  options.embedding_files = {"run1.h5", "*.csv"};
  return options;
}

std::string Table(const std::vector<std::string>& rows) {
  std::string text = "id\tlabel\tgroup\tnote\n";
  for (const auto& r : rows) text += r + "\n";
  return text;
}

TEST(LabelsDatasetTest, ATableLabelsProteinsAcrossFilesWithItsOwnClassesAndGroups) {
  TempDir dir;
  DatasetOptions options = LabelledData(
      dir, Table({"P0\tB1\tc1\tx", "P1\tB2\tc1\t", "P2\tB3\tc2\t", "P3\tB1\tc3\t", "P4\tB2\tc3\t",
                  "P5\tB3\tc4\t", "Q0\tB1\tc5\t", "Q1\tB2\tc5\t", "Q2\tB3\tc6\t", "Q3\tB1\tc6\t"}));
  auto data = LoadDataset(options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_THAT(data->class_names, ElementsAre("B1", "B2", "B3"));
  EXPECT_EQ(data->x.rows(), 10u);
  EXPECT_EQ(data->x.ids[0], "P0");
  EXPECT_EQ(data->class_index[1], 1);
  EXPECT_EQ(data->groups[9], "c6");
  EXPECT_EQ(data->label_source, "labels table " + dir.Join("labels.tsv"));
  EXPECT_EQ(data->files.size(), 2u);
  options.label_set = {"B3", "B2", "B1"};
  auto ordered = LoadDataset(options);
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  EXPECT_THAT(ordered->class_names, ElementsAre("B3", "B2", "B1"));
  EXPECT_EQ(ordered->class_index[0], 2);
}

TEST(LabelsDatasetTest, UnmatchedUnlabelledAndDuplicatedIdsAreErrorsOrCountedWarnings) {
  TempDir dir;
  DatasetOptions options = LabelledData(
      dir, Table({"P0\tbl\tg\t", "P1\tbl\tg\t", "P1\tnon\tg\t", "P2\tnon\tg\t", "P3\tnon\tg\t",
                  "X9\tbl\tg\t", "Q0\tbl\tg\t", "Q1\tnon\tg\t", "Q2\tbl\tg\t", "Q3\tnon\tg\t"}));
  auto status = LoadDataset(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("1 ids are labelled more than once"));
  EXPECT_THAT(status.message(), HasSubstr("(e.g. 'P1')"));
  options.warn_on_label_errors = true;
  auto data = LoadDataset(options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->x.rows(), 7u);  // P1 (twice), P4 and P5 (no label) left out
  EXPECT_THAT(data->warnings,
              ElementsAre(HasSubstr("1 ids are labelled more than once"),
                          HasSubstr("1 labelled ids of " + dir.Join("labels.tsv") +
                                    " are in no embedding file (e.g. 'X9')"),
                          HasSubstr("2 proteins of the embedding files have no label")));
}

TEST(LabelsDatasetTest, BadTablesNameTheLine) {
  TempDir dir;
  DatasetOptions options = LabelledData(dir, "protein\tclass\nP0\tbl\n");
  EXPECT_THAT(LoadDataset(options).status().message(),
              HasSubstr("line 1: the header needs the columns 'id' and 'label'"));
  std::ofstream(dir.Join("labels.tsv")) << "id\tlabel\nP0\tbl\textra\n";
  EXPECT_THAT(LoadDataset(options).status().message(),
              HasSubstr("labels.tsv: line 2: 3 fields; the header has 2"));
  std::ofstream(dir.Join("labels.tsv")) << "id\tlabel\nP0\t\n";
  EXPECT_THAT(LoadDataset(options).status().message(), HasSubstr("'P0' has an empty label"));
  options.embedding_files.clear();
  EXPECT_THAT(LoadDataset(options).status().message(),
              HasSubstr("data.labels needs data.embeddings"));
}

// Issue 25: the defaults name five class files; a lab with two classes leaves the others out
// with an empty value (`data.classes.class_B=` used to give "no file matches 'null'").
TEST(LabelsDatasetTest, AClassWithAnEmptyFileIsLeftOut) {
  TempDir dir;
  testing::WriteClassFiles(dir.path(), 2);
  DatasetOptions options;
  options.dir = dir.path();
  options.class_files = {{"class_A", "card_class_a_embeddings.h5"},
                         {"class_B", ""},
                         {"non_betalactamase", "non_betalactamase_embeddings_60k.h5"}};
  auto data = LoadDataset(options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_THAT(data->class_names, ElementsAre("class_A", "non_betalactamase"));
  EXPECT_EQ(data->x.rows(), 4u);
}

}  // namespace
}  // namespace arginator::trainer
