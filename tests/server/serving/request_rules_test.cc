#include "server/serving/request_rules.h"

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;
constexpr int kDim = 4;

std::string Name(int64_t i) { return absl::StrCat("embedding ", i); }

absl::Status RefError(const ModelRef& ref) { return ParseModelRef(ref).status(); }

ModelRef Ref(std::string name) {
  ModelRef ref;
  ref.name = std::move(name);
  return ref;
}

TEST(RequestRulesTest, ModelNamesVersionsAndLabels) {
  EXPECT_EQ(RefError(Ref("")).message(), "model name is required");
  ModelRef ref = Ref("m");
  ASSERT_TRUE(ParseModelRef(ref).ok());
  EXPECT_FALSE(ParseModelRef(ref)->version.has_value());
  ref.version = "3";
  EXPECT_EQ(*ParseModelRef(ref)->version, 3);
  for (const char* bad : {"0", "-1", "03", "x", "99999999999999999999"}) {
    ref.version = bad;
    EXPECT_EQ(RefError(ref).code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(RefError(ref).message(), HasSubstr("is not a positive integer")) << bad;
  }
  ref.version = "";
  ref.has_label = true;
  EXPECT_EQ(RefError(ref).message(), "model version label is empty");
  ref.label = "stable";
  EXPECT_EQ(*ParseModelRef(ref)->label, "stable");
  ref.version = "2";
  EXPECT_THAT(RefError(ref).message(), HasSubstr("not both"));
}

// An over-long name or label is refused by its size, never repeated back.
TEST(RequestRulesTest, LongNamesAndLabelsAreRefusedWithoutEcho) {
  ModelRef ref = Ref(std::string(300, 'x'));
  EXPECT_EQ(RefError(ref).message(),
            "model name is 300 bytes; at most 256 (server.max_name_bytes)");
  ref.name = "m";
  ref.has_label = true;
  ref.label = std::string(5000, 'l');
  EXPECT_EQ(RefError(ref).message(),
            "model version label is 5000 bytes; at most 256 (server.max_name_bytes)");
}

TEST(RequestRulesTest, TheRowsContract) {
  std::vector<float> scratch, norms;
  std::vector<float> values(3 * kDim, 1.f);
  RequestRows rows;
  rows.count = 3;
  rows.block = values.data();
  rows.width = kDim;
  auto ok = CheckRows(rows, kDim, 3, Name, scratch, norms);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->data, values.data());  // read in place
  EXPECT_TRUE(scratch.empty());
  ASSERT_EQ(norms.size(), 3u);
  EXPECT_FLOAT_EQ(norms[0], 2.f);

  auto message = [&](const RequestRows& r, int64_t max_rows = 3) {
    auto checked = CheckRows(r, kDim, max_rows, Name, scratch, norms);
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(checked.status().message());
  };
  EXPECT_THAT(message(rows, 2), HasSubstr("3 embeddings exceed the limit of 2 per request "
                                          "(server.max_embeddings_per_request)"));
  RequestRows none;
  EXPECT_EQ(message(none), "the request has no embeddings");
  RequestRows narrow = rows;
  narrow.width = 3;
  EXPECT_EQ(message(narrow), "embedding 0 has 3 values, the model expects 4");
  values[kDim + 2] = NAN;
  EXPECT_EQ(message(rows), "embedding 1 has NaN at position 2");
  values[kDim + 2] = INFINITY;
  EXPECT_EQ(message(rows), "embedding 1 has Inf at position 2");
  values.assign(values.size(), 3e38f);  // finite values, but the norm is not
  EXPECT_THAT(message(rows), HasSubstr("beyond float32 range"));
}

TEST(RequestRulesTest, RowsOfAnyWidthAreCheckedAndCopiedContiguous) {
  const std::vector<float> a(kDim, 1.f), b(kDim, 2.f), c(kDim + 1, 3.f);
  RequestRows rows;
  rows.count = 2;
  rows.each = {absl::MakeConstSpan(a), absl::MakeConstSpan(b)};
  std::vector<float> scratch, norms;
  auto ok = CheckRows(rows, kDim, 8, Name, scratch, norms);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->data, scratch.data());
  EXPECT_EQ(ok->row(1)[0], 2.f);
  rows.each[1] = absl::MakeConstSpan(c);
  EXPECT_EQ(CheckRows(rows, kDim, 8, Name, scratch, norms).status().message(),
            "embedding 1 has 5 values, the model expects 4");
}

TEST(RequestRulesTest, ALoneRowIsReadInPlace) {
  const std::vector<float> a(kDim, 1.f), wide(kDim + 1, 1.f);
  RequestRows rows;
  rows.count = 1;
  rows.each = {absl::MakeConstSpan(a)};
  std::vector<float> scratch, norms;
  auto ok = CheckRows(rows, kDim, 8, Name, scratch, norms);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->data, a.data());
  EXPECT_TRUE(scratch.empty());
  EXPECT_FLOAT_EQ(norms.at(0), 2.f);
  rows.each[0] = absl::MakeConstSpan(wide);
  EXPECT_EQ(CheckRows(rows, kDim, 8, Name, scratch, norms).status().message(),
            "embedding 0 has 5 values, the model expects 4");
}

TEST(RequestRulesTest, AnUnalignedBlockIsCopiedOnce) {
  std::vector<char> bytes(1 + kDim * sizeof(float), 0);
  const float one = 1.f;
  std::memcpy(bytes.data() + 1, &one, sizeof(one));
  RequestRows rows;
  rows.count = 1;
  rows.block = bytes.data() + 1;
  rows.width = kDim;
  std::vector<float> scratch, norms;
  auto ok = CheckRows(rows, kDim, 8, Name, scratch, norms);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->data, scratch.data());
  EXPECT_EQ(ok->row(0)[0], 1.f);
}

}  // namespace
}  // namespace arginator::server
