#include "server/service/request_parser.h"

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;
constexpr int kDim = 4;

v1::ClassifyRequest Repeated(int n, int width = kDim) {
  v1::ClassifyRequest r;
  r.mutable_model()->set_name("m");
  for (int i = 0; i < n; ++i) {
    v1::Embedding* e = r.add_embeddings();
    e->set_id("p" + std::to_string(i));
    for (int j = 0; j < width; ++j) e->add_values(static_cast<float>(i * 10 + j));
  }
  return r;
}

TEST(RequestParserTest, RepeatedAndPackedFormsGiveTheSameRows) {
  auto repeated = ParseEmbeddings(Repeated(3), kDim, 10);
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  v1::ClassifyRequest packed;
  std::string bytes(repeated->values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), repeated->values.data(), bytes.size());
  packed.set_packed_values(bytes);
  for (int i = 0; i < 3; ++i) packed.add_packed_ids("p" + std::to_string(i));
  auto parsed = ParseEmbeddings(packed, kDim, 10);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->values, repeated->values);
  EXPECT_EQ(parsed->ids, repeated->ids);
  // Row 1 is {10, 11, 12, 13}: the norm each prediction reports and the out-of-distribution
  // check uses.
  const double row1 = std::sqrt(10. * 10 + 11 * 11 + 12 * 12 + 13 * 13);
  ASSERT_EQ(repeated->norms.size(), 3u);
  EXPECT_FLOAT_EQ(repeated->norms[1], static_cast<float>(row1));
  EXPECT_EQ(parsed->norms, repeated->norms);
  packed.clear_packed_ids();
  EXPECT_EQ(ParseEmbeddings(packed, kDim, 10)->ids[2], "2");  // ids default to the row index
}

TEST(RequestParserTest, BadRequestsNameTheProblem) {
  auto message = [](const v1::ClassifyRequest& r) {
    auto p = ParseEmbeddings(r, kDim, 2);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(p.status().message());
  };
  EXPECT_THAT(message(v1::ClassifyRequest()), HasSubstr("empty request"));
  EXPECT_THAT(message(Repeated(3)), HasSubstr("3 embeddings exceed the limit of 2"));
  EXPECT_THAT(message(Repeated(1, 3)), HasSubstr("embedding 0 ('p0') has 3 values"));
  v1::ClassifyRequest nan = Repeated(2);
  nan.mutable_embeddings(1)->set_values(2, NAN);
  EXPECT_THAT(message(nan), HasSubstr("embedding 1 ('p1') has NaN at position 2"));
  v1::ClassifyRequest inf = Repeated(1);
  inf.mutable_embeddings(0)->set_values(0, INFINITY);
  EXPECT_THAT(message(inf), HasSubstr("Inf"));
  v1::ClassifyRequest both = Repeated(1);
  both.set_packed_values(std::string(16, '\0'));
  EXPECT_THAT(message(both), HasSubstr("not both"));
  v1::ClassifyRequest ragged;
  ragged.set_packed_values(std::string(15, '\0'));
  EXPECT_THAT(message(ragged), HasSubstr("not a multiple of 16"));
  v1::ClassifyRequest ids;
  ids.set_packed_values(std::string(32, '\0'));
  ids.add_packed_ids("only-one");
  EXPECT_THAT(message(ids), HasSubstr("1 ids for 2 rows"));
}

TEST(RequestParserTest, ModelSpecSelectors) {
  v1::ModelSpec spec;
  EXPECT_THAT(ParseModelSpec(spec).status().message(), HasSubstr("model.name is required"));
  spec.set_name("m");
  EXPECT_FALSE(ParseModelSpec(spec)->version.has_value());
  spec.set_version(-1);
  EXPECT_EQ(ParseModelSpec(spec).status().code(), absl::StatusCode::kInvalidArgument);
  spec.set_version(3);
  EXPECT_EQ(*ParseModelSpec(spec)->version, 3);
  spec.set_version_label("stable");
  EXPECT_EQ(*ParseModelSpec(spec)->label, "stable");
}

TEST(RequestParserTest, StatusConversion) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(CodeName(absl::StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(CodeName(absl::StatusCode::kOk), "OK");
}

}  // namespace
}  // namespace arginator::server
