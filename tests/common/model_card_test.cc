#include "common/model_card.h"

#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;

ModelCard ValidCard() {
  ModelCard card;
  card.name = "betalactamase-binary";
  card.version = 3;
  card.task = "binary";
  card.input_dim = 4;
  card.labels = {"non_betalactamase", "betalactamase"};
  card.model_sha256 = "abc";
  card.input_norm = {6.0, 0.2, 5.0, 7.0, {{"p50", 6.0}}};
  card.golden = {{"P1", {1, 2, 3, 4}, {0.25f, 0.75f}}};
  return card;
}

TEST(ModelCardTest, JsonRoundTripKeepsEveryTypedField) {
  ModelCard card = ValidCard();
  auto parsed = ModelCardFromJson(ModelCardToJson(card), "model.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->name, card.name);
  EXPECT_EQ(parsed->version, 3);
  EXPECT_EQ(parsed->labels, card.labels);
  EXPECT_DOUBLE_EQ(parsed->input_norm.max, 7.0);
  EXPECT_DOUBLE_EQ(parsed->input_norm.quantiles.at("p50"), 6.0);
  ASSERT_EQ(parsed->golden.size(), 1u);
  EXPECT_EQ(parsed->golden[0].probabilities, card.golden[0].probabilities);
}

// Issue 26: the decision policy and the evidence index the server acts on are typed and checked;
// a malformed section is an error naming the field, never an exception out of the loader.
TEST(ModelCardTest, DecisionAndEvidenceSectionsAreCheckedAndTyped) {
  nlohmann::json j = ModelCardToJson(ValidCard());
  j["decision"] = {
      {"calibration", {{"temperature", 1.5}}},
      {"thresholds",
       {{"non_betalactamase", {{"threshold", 0.5}}}, {"betalactamase", {{"threshold", nullptr}}}}},
      {"confidence", {{"high", 0.9}}},
      {"out_of_distribution",
       {{"file", "density.npy"},
        {"sha256", "abc"},
        {"eigenvalues", {2.0, 1.0}},
        {"residual_variance", 0.1},
        {"cutoff", 1.3}}}};
  j["evidence"] = {{"file", "references.faiss"},
                   {"sha256", "a"},
                   {"table_file", "references.tsv"},
                   {"table_sha256", "b"},
                   {"count", 10}};
  auto parsed = ModelCardFromJson(j, "model.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->decision.present);
  EXPECT_DOUBLE_EQ(parsed->decision.temperature, 1.5);
  EXPECT_DOUBLE_EQ(parsed->decision.thresholds[0], 0.5);
  EXPECT_TRUE(std::isinf(parsed->decision.thresholds[1])) << "null: never called";
  EXPECT_EQ(parsed->decision.eigenvalues.size(), 2u);
  EXPECT_EQ(parsed->evidence.count, 10);
  EXPECT_EQ(ModelCardToJson(*parsed)["decision"], j["decision"]) << "written back as read";

  const std::pair<std::function<void(nlohmann::json&)>, const char*> bad[] = {
      {[](nlohmann::json& c) {
         c["decision"]["thresholds"]["betalactamase"] = {{"t", 1}};
       },
       "thresholds.betalactamase.threshold"},
      {[](nlohmann::json& c) { c["decision"]["thresholds"].erase("betalactamase"); },
       "no entry for label 'betalactamase'"},
      {[](nlohmann::json& c) { c["decision"]["calibration"] = 3; }, "temperature"},
      {[](nlohmann::json& c) { c["decision"]["calibration"]["temperature"] = -1; }, "positive"},
      {[](nlohmann::json& c) { c["decision"]["out_of_distribution"]["file"] = "../x"; },
       "file of the version directory"},
      {[](nlohmann::json& c) { c["decision"]["out_of_distribution"]["eigenvalues"] = {0}; },
       "eigenvalues"},
      {[](nlohmann::json& c) { c["decision"] = "policy"; }, "must be an object"},
      {[](nlohmann::json& c) { c["evidence"]["count"] = 0; }, "evidence.count"},
      {[](nlohmann::json& c) { c["evidence"].erase("table_sha256"); }, "evidence.file"},
  };
  for (const auto& [edit, fragment] : bad) {
    nlohmann::json c = j;
    edit(c);
    auto refused = ModelCardFromJson(c, "model.json");
    ASSERT_FALSE(refused.ok()) << fragment;
    EXPECT_THAT(refused.status().message(), HasSubstr(fragment));
  }
}

TEST(ModelCardTest, MissingFieldIsNamed) {
  nlohmann::json j = ModelCardToJson(ValidCard());
  j.erase("labels");
  auto parsed = ModelCardFromJson(j, "models/x/1/model.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("models/x/1/model.json"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("'labels'"));
}

TEST(ModelCardTest, RejectsBadVersionTaskAndGoldenShape) {
  nlohmann::json j = ModelCardToJson(ValidCard());
  j["version"] = 0;
  EXPECT_THAT(ModelCardFromJson(j, "m").status().message(), HasSubstr("positive"));
  j = ModelCardToJson(ValidCard());
  j["task"] = "regression";
  EXPECT_THAT(ModelCardFromJson(j, "m").status().message(), HasSubstr("regression"));
  j = ModelCardToJson(ValidCard());
  j["golden"]["examples"][0]["probabilities"] = {1.0};
  EXPECT_THAT(ModelCardFromJson(j, "m").status().message(), HasSubstr("'P1'"));
  j = ModelCardToJson(ValidCard());
  j["version"] = "three";
  EXPECT_THAT(ModelCardFromJson(j, "m").status().message(), HasSubstr("wrong type"));
}

// Found by tests/fuzz/model_card_fuzz.cc: nlohmann's get<int>() took any number or boolean and
// converted it, so these cards were accepted with another version or width than written (and
// "input_dim": 1e10 was undefined behaviour).
TEST(ModelCardTest, IntegerFieldsRefuseFractionsBooleansAndOutOfRangeNumbers) {
  const std::pair<const char*, nlohmann::json> bad[] = {
      {"version", 1.5},    {"version", true},           {"version", 1e300},   {"input_dim", 4.9},
      {"input_dim", 1e10}, {"input_dim", 4294967300LL}, {"input_dim", false},
  };
  for (const auto& [field, value] : bad) {
    nlohmann::json j = ModelCardToJson(ValidCard());
    j[field] = value;
    auto parsed = ModelCardFromJson(j, "m.json");
    ASSERT_FALSE(parsed.ok()) << field << " = " << value.dump() << " was accepted";
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(absl::StrCat("'", field, "'")));
    EXPECT_THAT(parsed.status().message(), HasSubstr(value.dump()));
  }
}

TEST(ModelCardTest, GoldenValuesMustBeNumbersWithinFloatRange) {
  nlohmann::json j = ModelCardToJson(ValidCard());
  j["golden"]["examples"][0]["input"] = {1, true, 3, 4};
  EXPECT_THAT(ModelCardFromJson(j, "m").status().message(), HasSubstr("element 1: true"));
  j = ModelCardToJson(ValidCard());
  j["golden"]["examples"][0]["input"] = {1, 2, 1e39, 4};
  EXPECT_THAT(ModelCardFromJson(j, "m").status().message(), HasSubstr("beyond the range"));
  j = ModelCardToJson(ValidCard());
  j["golden"]["tolerance"] = 0.5;  // a whole number of any type is still fine where a float goes
  j["input_statistics"]["l2_norm"]["max"] = 8;
  EXPECT_TRUE(ModelCardFromJson(j, "m").ok());
}

TEST(Sha256Test, MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace arginator
