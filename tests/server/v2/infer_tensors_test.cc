#include "server/v2/infer_tensors.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ModelCard Card() {
  ModelCard card;
  card.name = "m";
  card.version = 3;
  card.input_dim = 4;
  card.labels = {"a", "b", "c"};
  return card;
}

// A request of `rows` rows of 4 floats, typed or raw; `values` keeps what the views point at.
InferRequest Request(int rows, bool raw, std::vector<float>& values) {
  values.assign(static_cast<size_t>(rows) * 4, 0.5f);
  InferRequest r;
  InferInput& in = r.inputs.emplace_back();
  in.name = "embedding";
  in.datatype = "FP32";
  in.shape = {rows, 4};
  if (raw) {
    in.has_raw = true;
    in.raw = reinterpret_cast<const char*>(values.data());
    in.raw_bytes = static_cast<int64_t>(values.size() * sizeof(float));
  } else {
    in.has_fp32 = true;
    in.fp32 = values.data();
    in.fp32_count = static_cast<int64_t>(values.size());
  }
  return r;
}

// A request's rows as the serving path takes them: decoded in the v2 format, then checked
// against the rows contract.
absl::StatusOr<RowsView> ParseInferInputs(const InferRequest& r, const ModelCard& card,
                                          int64_t max_rows, std::vector<float>& scratch,
                                          std::vector<float>& norms) {
  RequestRows rows;
  if (absl::Status s = DecodeInferRows(r, card, rows); !s.ok()) return s;
  return CheckRows(
      rows, card.input_dim, max_rows, [](int64_t i) { return absl::StrCat("embedding ", i); },
      scratch, norms);
}

absl::Status Parse(const InferRequest& r, int64_t max_rows = 10) {
  std::vector<float> scratch, norms;
  return ParseInferInputs(r, Card(), max_rows, scratch, norms).status();
}

TEST(InferTensorsTest, TypedAndRawInputsGiveTheSameRowsAndNorms) {
  for (bool raw : {false, true}) {
    std::vector<float> values, scratch, norms;
    InferRequest r = Request(2, raw, values);
    auto rows = ParseInferInputs(r, Card(), 10, scratch, norms);
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_EQ(rows->rows, 2);
    EXPECT_EQ(rows->cols, 4);
    EXPECT_EQ(rows->row(1)[3], 0.5f);
    EXPECT_THAT(norms, ElementsAre(1.0f, 1.0f));
  }
}

TEST(InferTensorsTest, AnUnalignedRawBufferIsCopiedNotMisread) {
  std::vector<float> values;
  InferRequest r = Request(1, true, values);
  std::string shifted(1 + 16, '\0');
  std::memcpy(shifted.data() + 1, values.data(), 16);
  r.inputs[0].raw = shifted.data() + 1;
  std::vector<float> scratch, norms;
  auto rows = ParseInferInputs(r, Card(), 10, scratch, norms);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->data, scratch.data());
  EXPECT_EQ(rows->row(0)[2], 0.5f);
}

TEST(InferTensorsTest, BadRequestsAreInvalidArgumentNamingTheProblem) {
  std::vector<float> values;
  struct Case {
    const char* what;
    std::function<void(InferRequest&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"no input", [](InferRequest& r) { r.inputs.clear(); }, "takes one input"},
      {"two inputs", [](InferRequest& r) { r.inputs.push_back(r.inputs[0]); }, "takes one input"},
      {"name", [](InferRequest& r) { r.inputs[0].name = "x"; }, "unknown input 'x'"},
      {"FP16", [](InferRequest& r) { r.inputs[0].datatype = "FP16"; }, "datatype FP16"},
      {"INT32", [](InferRequest& r) { r.inputs[0].datatype = "INT32"; }, "datatype INT32"},
      {"width",
       [](InferRequest& r) {
         r.inputs[0].shape = {2, 5};
         r.inputs[0].fp32_count = 10;
       },
       "embedding 0 has 5 values, the model expects 4"},
      {"shape",
       [](InferRequest& r) {
         r.inputs[0].shape = {2, 5};
       },
       "shape [2, 5] needs 10"},
      {"rank", [](InferRequest& r) { r.inputs[0].shape = {8}; }, "shape [8]"},
      {"zero rows",
       [](InferRequest& r) {
         r.inputs[0].shape = {0, 4};
         r.inputs[0].fp32_count = 0;
       },
       "the request has no embeddings"},
      {"negative",
       [](InferRequest& r) {
         r.inputs[0].shape = {-1, 4};
       },
       "n >= 1"},
      {"too many",
       [](InferRequest& r) {
         r.inputs[0].shape = {11, 4};
         r.inputs[0].fp32_count = 44;
       },
       "exceed the limit of 10"},
      {"count", [](InferRequest& r) { r.inputs[0].fp32_count = 7; }, "has 7 FP32 values"},
      {"both", [](InferRequest& r) { r.inputs[0].has_raw = true; }, "not both"},
      {"neither", [](InferRequest& r) { r.inputs[0].has_fp32 = false; }, "has neither"},
      {"other typed", [](InferRequest& r) { r.inputs[0].other_typed = "int_contents"; },
       "has int_contents"},
      {"output", [](InferRequest& r) { r.outputs.push_back({"nope"}); }, "unknown output 'nope'"},
      {"twice",
       [](InferRequest& r) {
         r.outputs = {{"label"}, {"label"}};
       },
       "requested twice"},
      {"k",
       [](InferRequest& r) {
         r.outputs.push_back({"probabilities", 4});
       },
       "not in [1, 3]"},
      {"k where",
       [](InferRequest& r) {
         r.outputs.push_back({"label", 1});
       },
       "applies to output"},
  };
  for (const Case& c : cases) {
    InferRequest r = Request(2, false, values);
    c.edit(r);
    absl::Status s = Parse(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.what << ": " << s.message();
  }
  InferRequest r = Request(1, true, values);
  r.inputs[0].raw_bytes = 15;
  EXPECT_THAT(Parse(r).message(), HasSubstr("15 bytes of raw contents"));
  values[2] = std::numeric_limits<float>::quiet_NaN();
  r = Request(1, false, values);
  values[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(Parse(r).message(), HasSubstr("embedding 0 has NaN at position 2"));
}

TEST(InferTensorsTest, TimeoutAndVersionLabelParameters) {
  InferRequest r;
  r.model_name = "m";
  r.model_version = "2";
  EXPECT_EQ(SetTimeoutParameter(false, 0, r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetTimeoutParameter(true, -5, r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(SetVersionLabelParameter(false, "", r).message(), HasSubstr("must be a string"));
  const absl::Time arrival = absl::FromUnixSeconds(1000);
  const absl::Time transport = arrival + absl::Seconds(30);
  EXPECT_EQ(InferDeadline(r, arrival, transport), transport);  // no timeout: the transport's
  ASSERT_TRUE(SetTimeoutParameter(true, 1500, r).ok());
  EXPECT_EQ(InferDeadline(r, arrival, transport), arrival + absl::Microseconds(1500));
  ASSERT_TRUE(SetTimeoutParameter(true, 60'000'000, r).ok());
  EXPECT_EQ(InferDeadline(r, arrival, transport), transport);  // the earlier of the two
  ASSERT_TRUE(SetVersionLabelParameter(true, "stable", r).ok());
  ModelRef model;
  InferModelRef(r, model);
  EXPECT_EQ(model.name, "m");
  EXPECT_EQ(model.version, "2");
  EXPECT_TRUE(model.has_label);
  EXPECT_EQ(model.label, "stable");
}

TEST(InferTensorsTest, OutputsFollowTheRequestOrTheMetadataOrder) {
  const ModelCard card = Card();
  const std::vector<float> probs = {0.2f, 0.7f, 0.1f, 0.5f, 0.2f, 0.3f};
  const std::vector<float> norms = {1.5f, 2.5f};
  Verdicts v;
  v.rows = {{1, 0.7f, false}, {0, 0.5f, true}};
  v.rows[0].call = 1;
  v.rows[0].confidence = Confidence::kHigh;
  v.rows[0].call_probability = 0.9f;
  v.rows[1].ood_score = 3.5f;  // out of distribution: uncertain, Low
  v.calibrated = {0.05f, 0.9f, 0.05f, 0.6f, 0.2f, 0.2f};
  std::vector<InferOutput> out;
  BuildInferOutputs(InferRequest(), {card, RowsView(probs.data(), 2, 3), norms, v}, out);
  std::vector<std::string> names;
  for (const auto& o : out) names.push_back(o.name);
  std::vector<std::string> metadata;
  for (const auto& t : OutputMetadata(card)) metadata.push_back(t.name);
  EXPECT_EQ(names, metadata);
  EXPECT_THAT(out[0].shape, ElementsAre(2, 3));
  EXPECT_EQ(out[0].labels, "a,b,c");
  EXPECT_THAT(out[1].bytes, ElementsAre("b", "a"));
  EXPECT_THAT(out[2].int32, ElementsAre(1, 0));
  EXPECT_THAT(out[3].fp32, ElementsAre(0.7f, 0.5f));
  EXPECT_THAT(out[4].boolean, ElementsAre(0, 1));
  EXPECT_THAT(out[5].fp32, ElementsAre(1.5f, 2.5f));
  EXPECT_THAT(out[6].bytes, ElementsAre("b", "uncertain"));
  EXPECT_THAT(out[7].bytes, ElementsAre("High", "Low"));
  EXPECT_THAT(out[8].fp32, ElementsAre(0.9f, 0.f));
  EXPECT_THAT(out[9].shape, ElementsAre(2, 3));
  EXPECT_THAT(out[9].fp32, ElementsAre(0.05f, 0.9f, 0.05f, 0.6f, 0.2f, 0.2f));
  EXPECT_EQ(out[9].labels, "a,b,c");
  EXPECT_THAT(out[10].fp32, ElementsAre(0.f, 3.5f));

  InferRequest r;
  r.outputs = {{"l2_norm"}, {"probabilities", 2, true}};
  BuildInferOutputs(r, {card, RowsView(probs.data(), 2, 3), norms, v}, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "l2_norm");
  EXPECT_EQ(out[1].datatype, "BYTES");
  EXPECT_THAT(out[1].shape, ElementsAre(2, 2));
  EXPECT_THAT(out[1].bytes, ElementsAre("0.7:1:b", "0.2:0:a", "0.5:0:a", "0.3:2:c"));
  EXPECT_TRUE(out[1].binary);
}

TEST(InferTensorsTest, RawContentsAreLittleEndianWithLengthPrefixedBytes) {
  InferOutput o;
  o.bytes = {"ab", ""};
  EXPECT_EQ(RawContents(o), std::string("\x02\0\0\0ab\0\0\0\0", 10));
  InferOutput f;
  f.fp32 = {1.0f};
  EXPECT_EQ(RawContents(f), std::string("\0\0\x80\x3f", 4));
  InferOutput b;
  b.boolean = {1, 0};
  EXPECT_EQ(RawContents(b), std::string("\x01\0", 2));
}

}  // namespace
}  // namespace arginator::server
