#include "common/csv_fields.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CsvFieldsTest, UnquotedFieldsSplitOnTheSeparatorAndKeepEmptyOnes) {
  std::vector<std::string> fields;
  ASSERT_TRUE(SplitCsvFields("a,,b,", ',', &fields).ok());
  EXPECT_THAT(fields, ElementsAre("a", "", "b", ""));
  ASSERT_TRUE(SplitCsvFields("x\ty z\t1", '\t', &fields).ok());
  EXPECT_THAT(fields, ElementsAre("x", "y z", "1"));
}

TEST(CsvFieldsTest, AQuotedFieldHoldsTheSeparatorAndDoubledQuotes) {
  std::vector<std::string> fields;
  ASSERT_TRUE(SplitCsvFields(R"("WP_1, TEM-1","say ""hi""",0.5,"1e-3")", ',', &fields).ok());
  EXPECT_THAT(fields, ElementsAre("WP_1, TEM-1", R"(say "hi")", "0.5", "1e-3"));
  ASSERT_TRUE(SplitCsvFields(R"("",x)", ',', &fields).ok());
  EXPECT_THAT(fields, ElementsAre("", "x"));
}

TEST(CsvFieldsTest, MalformedQuotesNameTheField) {
  std::vector<std::string> fields;
  EXPECT_THAT(SplitCsvFields(R"(a,"open)", ',', &fields).message(),
              HasSubstr("field 2 has an unclosed quote"));
  EXPECT_THAT(SplitCsvFields(R"("a"b,1)", ',', &fields).message(),
              HasSubstr("field 1 has text after its closing quote"));
}

}  // namespace
}  // namespace arginator
