#include "common/version_labels.h"

#include <sys/stat.h>

#include <filesystem>

#include "common/file_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;

TEST(VersionLabelsTest, ParsesAnObjectOfLabelToVersionAndRefusesAnythingElse) {
  auto labels = ParseVersionLabels(R"({"stable": 3, "canary": 4})", "labels.json", 256);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels, (std::map<std::string, int64_t>{{"canary", 4}, {"stable", 3}}));
  EXPECT_TRUE(ParseVersionLabels("{}", "labels.json", 256)->empty());
  for (const char* bad : {"", "[1]", "{\"stable\": 0}", "{\"stable\": \"3\"}", "{\"stable\": 2.5}",
                          "{\"\": 1}", "{\"stable\": 3"}) {
    auto parsed = ParseVersionLabels(bad, "m/labels.json", 256);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("m/labels.json")) << bad;
  }
  EXPECT_FALSE(ParseVersionLabels("{\"" + std::string(300, 'x') + "\": 1}", "f", 256).ok());
}

// Issue 23, item 6: the server wrote label sets it then refused to read back. The most it
// accepts, 64 labels of 256 bytes, fits the file limit and reads back; a 65th is refused.
TEST(VersionLabelsTest, TheLargestAcceptedSetReadsBackAndOneMoreLabelIsRefused) {
  std::map<std::string, int64_t> labels;
  for (size_t i = 0; i < kMaxLabelsPerModel; ++i) {
    labels[std::to_string(i) + std::string(256 - std::to_string(i).size(), 'l')] = 1;
  }
  const std::string text = SerializeVersionLabels(labels);
  EXPECT_LE(text.size(), kMaxLabelsFileBytes);
  auto back = ParseVersionLabels(text, "f", kMaxLabelBytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, labels);
  labels["one-more"] = 2;
  EXPECT_THAT(
      ParseVersionLabels(SerializeVersionLabels(labels), "f", kMaxLabelBytes).status().message(),
      HasSubstr("at most 64"));
}

TEST(VersionLabelsTest, WritesAtomicallyAndSaysWhyItCannot) {
  testing::TempDir dir;
  const std::string path = dir.Join("labels.json");
  ASSERT_TRUE(WriteVersionLabels(path, {{"stable", 3}}).ok());
  ASSERT_TRUE(WriteVersionLabels(path, {{"stable", 4}, {"canary", 5}}).ok());
  auto back = ParseVersionLabels(*ReadFileToString(path), path, 256);
  EXPECT_EQ(*back, (std::map<std::string, int64_t>{{"canary", 5}, {"stable", 4}}));
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u) << "no temporary file left behind";
  absl::Status missing = WriteVersionLabels(dir.Join("no-such-model/labels.json"), {});
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.message(), HasSubstr("no-such-model/labels.json"));
  EXPECT_THAT(missing.message(), HasSubstr("models.persist_labels"));
}

}  // namespace
}  // namespace arginator
