#include "server/v1/v1_request.h"

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc/grpc_edge.h"
#include "server/serving/edge_limits.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;
constexpr int kDim = 4;

// A request's rows as the serving path takes them: decoded in arginator.v1's format, then
// checked against the rows contract, every row named as the path names it.
absl::StatusOr<RowsView> ParseEmbeddings(const v1::ClassifyRequest& request, int dim,
                                         int64_t max_rows, std::vector<float>& scratch,
                                         std::vector<float>& norms) {
  RequestRows rows;
  if (absl::Status s = DecodeClassifyRows(request, dim, rows); !s.ok()) return s;
  return CheckRows(
      rows, dim, max_rows, [&](int64_t i) { return ClassifyRowName(request, i); }, scratch, norms);
}

absl::StatusOr<VersionSelector> ParseModelSpec(const v1::ModelSpec& spec) {
  ModelRef model;
  DecodeModelSpec(spec, model);
  return ParseModelRef(model);
}

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

// The parsed rows as a vector, for comparisons.
std::vector<float> Values(RowsView rows) { return {rows.data, rows.data + rows.size()}; }

TEST(V1RequestTest, RepeatedAndPackedFormsGiveTheSameRows) {
  std::vector<float> scratch, norms;
  const v1::ClassifyRequest repeated_request = Repeated(3);
  auto repeated = ParseEmbeddings(repeated_request, kDim, 10, scratch, norms);
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  const std::vector<float> repeated_values = Values(*repeated), repeated_norms = norms;
  v1::ClassifyRequest packed;
  std::string bytes(repeated_values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), repeated_values.data(), bytes.size());
  packed.set_packed_values(bytes);
  for (int i = 0; i < 3; ++i) packed.add_packed_ids("p" + std::to_string(i));
  std::vector<float> packed_scratch;
  auto parsed = ParseEmbeddings(packed, kDim, 10, packed_scratch, norms);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(Values(*parsed), repeated_values);
  EXPECT_EQ(parsed->rows, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(RowId(packed, i), RowId(repeated_request, i));
  // Row 1 is {10, 11, 12, 13}: the norm each prediction reports and the out-of-distribution
  // check uses.
  const double row1 = std::sqrt(10. * 10 + 11 * 11 + 12 * 12 + 13 * 13);
  ASSERT_EQ(repeated_norms.size(), 3u);
  EXPECT_FLOAT_EQ(repeated_norms[1], static_cast<float>(row1));
  EXPECT_EQ(norms, repeated_norms);
  packed.clear_packed_ids();
  EXPECT_EQ(RowId(packed, 2), "2");  // ids default to the row index
}

TEST(V1RequestTest, PackedRowsAreReadInPlaceNotCopied) {
  v1::ClassifyRequest packed;
  packed.set_packed_values(std::string(2 * kDim * sizeof(float), '\0'));
  std::vector<float> scratch, norms;
  auto rows = ParseEmbeddings(packed, kDim, 10, scratch, norms);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(static_cast<const void*>(rows->data),
            static_cast<const void*>(packed.packed_values().data()));
  EXPECT_TRUE(scratch.empty());
}

TEST(V1RequestTest, BadRequestsNameTheProblem) {
  auto message = [](const v1::ClassifyRequest& r) {
    std::vector<float> scratch, norms;
    auto p = ParseEmbeddings(r, kDim, 2, scratch, norms);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(p.status().message());
  };
  EXPECT_THAT(message(v1::ClassifyRequest()), HasSubstr("the request has no embeddings"));
  EXPECT_THAT(message(Repeated(3)), HasSubstr("3 embeddings exceed the limit of 2"));
  EXPECT_THAT(message(Repeated(1, 3)), HasSubstr("embedding 0 ('p0') has 3 values"));
  v1::ClassifyRequest nan = Repeated(2);
  nan.mutable_embeddings(1)->set_values(2, NAN);
  EXPECT_THAT(message(nan), HasSubstr("embedding 1 ('p1') has NaN at position 2"));
  v1::ClassifyRequest inf = Repeated(1);
  inf.mutable_embeddings(0)->set_values(0, INFINITY);
  EXPECT_THAT(message(inf), HasSubstr("Inf"));
  v1::ClassifyRequest huge = Repeated(1);
  for (auto& v : *huge.mutable_embeddings(0)->mutable_values()) v = 3e38f;  // finite, norm is not
  EXPECT_THAT(message(huge), HasSubstr("beyond float32 range"));
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

// Issue 11, item 7: a 100 KB model name or label was echoed into the status message, which a
// default client then refused as too large metadata.
TEST(V1RequestTest, LongNamesAreRefusedWithoutEchoAndLongMessagesAreCut) {
  v1::ModelSpec spec;
  spec.set_name(std::string(100000, 'x'));
  absl::Status s = ParseModelSpec(spec).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model name is 100000 bytes; at most 256"));
  EXPECT_LT(s.message().size(), 120u);
  spec.set_name("m");
  spec.set_version_label(std::string(5000, 'l'));
  EXPECT_THAT(ParseModelSpec(spec).status().message(), HasSubstr("model version label is 5000"));

  grpc::Status cut = ToGrpcStatus(absl::NotFoundError(std::string(5000, 'y')));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LT(cut.error_message().size(), 1100u);
  EXPECT_THAT(cut.error_message(), HasSubstr("5000 bytes in all"));

  // Both limits are the operator's (server.max_name_bytes, server.max_status_message_bytes).
  const EdgeLimits saved = GetEdgeLimits();
  SetEdgeLimits({16, 200});
  spec.set_version_label("");
  spec.set_name(std::string(17, 'x'));
  EXPECT_THAT(ParseModelSpec(spec).status().message(), HasSubstr("at most 16"));
  EXPECT_LT(ToGrpcStatus(absl::NotFoundError(std::string(5000, 'y'))).error_message().size(), 260u);
  SetEdgeLimits(saved);
}

TEST(V1RequestTest, ModelSpecSelectors) {
  v1::ModelSpec spec;
  EXPECT_THAT(ParseModelSpec(spec).status().message(), HasSubstr("model name is required"));
  spec.set_name("m");
  EXPECT_FALSE(ParseModelSpec(spec)->version.has_value());
  spec.set_version(-1);
  EXPECT_EQ(ParseModelSpec(spec).status().code(), absl::StatusCode::kInvalidArgument);
  spec.set_version(3);
  EXPECT_EQ(*ParseModelSpec(spec)->version, 3);
  spec.set_version_label("stable");
  EXPECT_EQ(*ParseModelSpec(spec)->label, "stable");
}

TEST(V1RequestTest, StatusConversion) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace arginator::server
