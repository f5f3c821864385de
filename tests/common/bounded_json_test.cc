#include "common/bounded_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(BoundedJsonTest, ParsesWhatTheLimitsAllowAsTheDomParserWould) {
  const std::string text = R"({"a": [1, 2.5, "x", null, true, {"b": []}], "c": {"d": -3}})";
  absl::StatusOr<nlohmann::json> parsed = ParseBoundedJson(text, JsonLimits{}, "the body");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, nlohmann::json::parse(text));
}

// Issue 23, item 2: a data element 100,000 levels deep overflowed the stack of the dump that
// echoed it; parameters 1,000,000 deep overflowed json::value()'s copy.
TEST(BoundedJsonTest, NestingPastTheDepthIsRefusedWithoutRecursion) {
  JsonLimits limits;
  limits.max_depth = 32;
  EXPECT_TRUE(ParseBoundedJson(Nested(32), limits, "doc").ok());
  absl::StatusOr<nlohmann::json> deep = ParseBoundedJson(Nested(1000000), limits, "the body");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(deep.status().message(), HasSubstr("the body is nested more than 32 deep"));
}

// Issue 23, item 3: a 60 MB nested array under an unused key cost 3 GB parsed.
TEST(BoundedJsonTest, ValuesAndContainersPastTheirLimitsAreRefused) {
  JsonLimits limits;
  limits.max_values = 100;
  limits.max_containers = 10;
  std::string many = "[0";
  for (int i = 0; i < 100; ++i) many += ",0";
  EXPECT_THAT(ParseBoundedJson(many + "]", limits, "doc").status().message(),
              HasSubstr("more than 100 values"));
  std::string arrays = "[";
  for (int i = 0; i < 10; ++i) arrays += "[],";
  EXPECT_THAT(ParseBoundedJson(arrays + "[]]", limits, "doc").status().message(),
              HasSubstr("more than 10 arrays and objects"));
}

TEST(BoundedJsonTest, SyntaxErrorsNameTheirPosition) {
  absl::StatusOr<nlohmann::json> bad = ParseBoundedJson("{\"a\": [1, }", JsonLimits{}, "doc");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("doc not valid JSON at byte"));
  EXPECT_FALSE(ParseBoundedJson("\"\xff\"", JsonLimits{}, "doc").ok());  // invalid UTF-8
}

// Issue 23, item 1: an error echoing a client's invalid UTF-8 threw from json::dump.
TEST(BoundedJsonTest, DumpReplacesInvalidUtf8InsteadOfThrowing) {
  const nlohmann::json j = {{"error", std::string("model '\xff\xfe' not found")}};
  const std::string text = DumpJson(j);
  EXPECT_THAT(text, HasSubstr("model '\xef\xbf\xbd\xef\xbf\xbd' not found"));  // U+FFFD each
  EXPECT_EQ(nlohmann::json::parse(text)["error"].get<std::string>().size(), 24u);
}

TEST(BoundedJsonTest, Utf8PrefixNeverSplitsACharacter) {
  std::string e_acute = "\xc3\xa9";
  std::string text = "a";
  for (int i = 0; i < 200; ++i) text += e_acute;
  EXPECT_EQ(Utf8Prefix(text, 256).size(), 255u);  // "a" + 127 whole characters
  EXPECT_EQ(Utf8Prefix(text, 257).size(), 257u);
  EXPECT_EQ(Utf8Prefix("abc", 10), "abc");
  EXPECT_EQ(Utf8Prefix("\xe2\x82\xac", 2), "");  // a 3-byte euro sign does not fit
}

}  // namespace
}  // namespace arginator
