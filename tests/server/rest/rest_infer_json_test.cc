// The REST request reader: flat `data` arrays read without the DOM (issue 29) give exactly what
// the DOM path gives, values bit for bit, errors word for word.
#include "server/rest/rest_infer_json.h"

#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

struct Decoded {
  absl::Status status;
  InferRequest request;
  std::vector<float> values;
};

Decoded Fast(std::string_view header, const JsonLimits& limits = {}, std::string_view binary = "") {
  Decoded d;
  d.request.model_name = "m";  // what the server sets before decoding must survive
  bool parse_error = false;
  d.status = ParseRestInferRequest(header, binary, limits, d.request, d.values, &parse_error);
  return d;
}

Decoded Dom(std::string_view header, const JsonLimits& limits = {}, std::string_view binary = "") {
  Decoded d;
  d.request.model_name = "m";
  auto body = ParseBoundedJson(header, limits, "the request body");
  d.status = body.ok() ? DecodeRestInferRequest(*body, binary, d.request, d.values) : body.status();
  return d;
}

void ExpectSame(std::string_view header, const JsonLimits& limits = {}) {
  const Decoded a = Fast(header, limits), b = Dom(header, limits);
  ASSERT_EQ(a.status, b.status) << header.substr(0, 200);
  EXPECT_EQ(a.request.model_name, "m");
  ASSERT_EQ(a.request.inputs.size(), b.request.inputs.size()) << header.substr(0, 200);
  EXPECT_EQ(a.request.id, b.request.id);
  EXPECT_EQ(a.request.outputs.size(), b.request.outputs.size());
  for (size_t i = 0; i < a.request.inputs.size(); ++i) {
    const InferInput &x = a.request.inputs[i], &y = b.request.inputs[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.has_fp32, y.has_fp32);
    ASSERT_EQ(x.fp32_count, y.fp32_count) << header.substr(0, 200);
    if (x.fp32_count == 0) continue;  // memcmp of two null views is undefined
    EXPECT_EQ(std::memcmp(x.fp32, y.fp32, sizeof(float) * x.fp32_count), 0)
        << header.substr(0, 200);
  }
}

std::string Body(const std::string& data, const std::string& shape = "[1, 4]") {
  return absl::StrCat(
      R"({"id": "r1", "inputs": [{"name": "embedding", "datatype": "FP32", "shape": )", shape,
      R"(, "data": )", data, R"(}], "outputs": [{"name": "probabilities"}]})");
}

TEST(RestInferJsonTest, AnEmbeddingReadsToTheSameFloatsAsTheDomAndAsWritten) {
  std::mt19937 rng(29);
  std::normal_distribution<float> noise(0, 0.1f);
  std::vector<float> row(1024);
  std::vector<std::string> text;
  for (float& v : row) {
    v = noise(rng);
    text.push_back(absl::StrFormat("%.9g", v));
  }
  const std::string header = Body("[" + absl::StrJoin(text, ", ") + "]", "[1, 1024]");
  ExpectSame(header);
  const Decoded d = Fast(header);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.request.inputs[0].fp32_count, 1024);
  EXPECT_EQ(std::memcmp(d.request.inputs[0].fp32, row.data(), sizeof(float) * 1024), 0);
  EXPECT_EQ(d.request.id, "r1");
}

TEST(RestInferJsonTest, EveryNumberFormTheGrammarAllowsReadsAsTheDomReadsIt) {
  for (const char* data :
       {"[0, -0, 1, -1, 0.5, -0.25, 1e-7, 1E+2, 2e-2, 3.4028235e38, 1e39, -1e39, 1e-46, 7]",
        "[1e400]", "[-1e400]", "[1e-400]", "[123456789012345678]", "[12345678901234567890123]",
        "[123456789012345]", "[ 1 ,\n2\t,\r3 , 4 ]", "[]", "[[1, 2, 3, 4]]", "[1, [2, 3], 4]"}) {
    ExpectSame(Body(data));
  }
}

TEST(RestInferJsonTest, LongDigitRunsReadAsTheDomReadsThem) {
  // Digits are skipped eight at a time: runs of every length around that word, ended by every
  // kind of byte (the array's own punctuation, a letter, a byte above '9' and one below '0', a
  // UTF-8 lead byte), at the body's end too, read as the DOM reads them or fail as it fails.
  for (int digits = 1; digits <= 26; ++digits) {
    const std::string run(static_cast<size_t>(digits), '7');
    for (const std::string& number :
         {run, "-" + run, "0." + run, "1." + run + "e-" + run.substr(0, 2), "2e" + run.substr(0, 1),
          run + "." + run, "0." + run + "x", "0." + run + ":", "0." + run + "/",
          "0." + run + "\xc3\xa9", run + "E+" + run.substr(0, 2)}) {
      ExpectSame(Body(absl::StrCat("[", number, ", ", number, ", 1, ", number, "]")));
    }
    ExpectSame(absl::StrCat(R"({"inputs": [{"name": "e", "datatype": "FP32", "shape": [1, 1], )",
                            R"("data": [0.)", run));  // ends inside the digits
  }
}

TEST(RestInferJsonTest, MalformedDataGivesTheDomsErrorWordForWord) {
  for (const char* data : {"[1,]", "[,1]", "[01]", "[.5]", "[1.]", "[- 1]", "[+1]", "[NaN]",
                           "[Infinity]", "[1e]", "[1e+]", "[0x10]", "[\"1\", 2, 3, 4]", "[1 2 3 4]",
                           "[true, 1, 2, 3]", "[null]", "[1, 2, 3, 4", "[1, 2, 3, 4]]"}) {
    ExpectSame(Body(data));
    EXPECT_FALSE(Fast(Body(data)).status.ok()) << data;
  }
}

// Keys the fast reader cannot vouch for go the DOM way: the last of repeated keys wins there.
TEST(RestInferJsonTest, RepeatedEscapedAndMisplacedKeysGoTheDomWay) {
  for (const std::string& header : {
           std::string(R"({"inputs": [{"name": "e", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data": [1, 2], "data": [[3, 4]]}]})"),
           std::string(R"({"inputs": [{"name": "e", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data": [[3, 4]], "data": [1, 2]}]})"),
           std::string(R"({"inputs": [{"name": "e", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data": [1, 2], "d\u0061ta": [5, 6]}]})"),
           std::string(R"({"inputs": [{"name": "e", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data": [1, 2]}], "inputs": [{"name": "f", "datatype": "FP32", )"
                       R"("shape": [1, 2], "data": [[7, 8]]}]})"),
           std::string(R"({"parameters": {"data": [1, 2]}, "inputs": [{"name": "e", )"
                       R"("datatype": "FP32", "shape": [1, 2], "data": [9, 10]}]})"),
           std::string(R"({"inputs": [{"name": "e", "datatype": "INT32", "shape": [1, 2], )"
                       R"("data": [1, 2]}, {"name": "f", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data": [3, 4]}]})"),
           std::string(R"({"inputs": [5, {"name": "e", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data": [1, 2]}]})"),
           std::string(R"({"inputs": [{"name": "a\"data\": [", "datatype": "FP32", )"
                       R"("shape": [1, 2], "data": [1, 2]}]})"),
           std::string(R"({"inputs": [{"name": "e", "datatype": "FP32", "shape": [1, 2], )"
                       R"("data" [1, 2]}]})"),
       }) {
    ExpectSame(header);
  }
}

// The value limit counts the numbers read without the DOM as the DOM would, at every limit around
// the document's size (some refuse it, some take it).
TEST(RestInferJsonTest, TheValueLimitHoldsForNumbersReadWithoutTheDom) {
  const std::string header = Body("[1, 2, 3, 4]");
  int refused = 0, taken = 0;
  for (size_t max_values = 4; max_values <= 30; ++max_values) {
    JsonLimits limits;
    limits.max_values = max_values;
    ExpectSame(header, limits);
    (Fast(header, limits).status.ok() ? taken : refused)++;
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(taken, 0);
}

}  // namespace
}  // namespace arginator::server
