#include "trainer/label_scheme.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::trainer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kSeed = {"class_A", "class_B", "class_C", "class_D",
                                        "non_betalactamase"};

// The table of tasks and class sets a lab may bring (issue 25: only the seed's five classes were
// possible before).
TEST(LabelSchemeTest, EachTaskAndClassSetMapsAsDocumented) {
  auto seed_binary = MakeLabelScheme("binary", kSeed);
  ASSERT_TRUE(seed_binary.ok());
  EXPECT_THAT(seed_binary->labels, ElementsAre("non_betalactamase", "betalactamase"));
  EXPECT_THAT(seed_binary->label_of_class, ElementsAre(1, 1, 1, 1, 0));

  auto seed_multi = MakeLabelScheme("multiclass", kSeed);
  ASSERT_TRUE(seed_multi.ok());
  EXPECT_EQ(seed_multi->labels, kSeed);
  EXPECT_THAT(seed_multi->label_of_class, ElementsAre(0, 1, 2, 3, 4));

  // A lab with beta-lactamase / non-beta-lactamase labels only: the negative class comes first.
  auto two = MakeLabelScheme("binary", {"betalactamase", "non_betalactamase"});
  ASSERT_TRUE(two.ok());
  EXPECT_THAT(two->labels, ElementsAre("non_betalactamase", "betalactamase"));
  EXPECT_THAT(two->label_of_class, ElementsAre(1, 0));

  // Its own set: class B subclasses.
  auto subclasses = MakeLabelScheme("multiclass", {"B1", "B2", "B3"});
  ASSERT_TRUE(subclasses.ok());
  EXPECT_THAT(subclasses->labels, ElementsAre("B1", "B2", "B3"));

  auto resistant = MakeLabelScheme("binary", {"resistant", "susceptible"});
  ASSERT_TRUE(resistant.ok());
  EXPECT_THAT(resistant->labels, ElementsAre("resistant", "susceptible"));
}

TEST(LabelSchemeTest, ImpossibleSchemesSayWhy) {
  EXPECT_THAT(MakeLabelScheme("binary", {"B1", "B2", "B3"}).status().message(),
              HasSubstr("task binary needs exactly two classes"));
  EXPECT_THAT(MakeLabelScheme("multiclass", {"only"}).status().message(),
              HasSubstr("at least two classes; the data has [only]"));
}

}  // namespace
}  // namespace arginator::trainer
