#include "common/model_card.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/status_macros.h"

namespace arginator {

using nlohmann::json;

json ModelCardToJson(const ModelCard& card) {
  json golden = json::array();
  for (const auto& g : card.golden) {
    golden.push_back({{"id", g.id}, {"input", g.input}, {"probabilities", g.probabilities}});
  }
  json j{
      {"name", card.name},
      {"version", card.version},
      {"task", card.task},
      {"input_dim", card.input_dim},
      {"labels", card.labels},
      {"output", card.output},
      {"architecture", card.architecture},
      {"hyperparameters", card.hyperparameters},
      {"dataset", card.dataset},
      {"metrics", card.metrics},
      {"input_statistics",
       {{"l2_norm",
         {{"mean", card.input_norm.mean},
          {"std", card.input_norm.std},
          {"min", card.input_norm.min},
          {"max", card.input_norm.max},
          {"quantiles", card.input_norm.quantiles}}}}},
      {"golden", {{"tolerance", card.golden_tolerance}, {"examples", golden}}},
      {"model_sha256", card.model_sha256},
      {"created", card.created},
      {"trainer_version", card.trainer_version},
      {"torch_version", card.torch_version},
      {"config", card.config},
  };
  if (!card.review.empty()) j["review"] = card.review;
  if (!card.provenance.empty()) j["provenance"] = card.provenance;
  if (!card.compression.empty()) j["compression"] = card.compression;
  if (!card.quantization.is_null()) j["quantization"] = card.quantization;
  if (!card.decision_json.empty()) j["decision"] = card.decision_json;
  if (!card.evidence_json.empty()) j["evidence"] = card.evidence_json;
  return j;
}

std::string QuantizedEngine(const ModelCard& card) {
  return card.quantization.is_object() ? card.quantization.value("engine", "") : "";
}

namespace {

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsStringMap : std::false_type {};
template <typename T>
struct IsStringMap<std::map<std::string, T>> : std::true_type {};

// Why `v` cannot become a T as it is, or "" when it can (or when get<T>() itself refuses it).
// nlohmann's get<T>() converts any number, and a boolean, to any arithmetic type: "version": 1.5
// became 1, "version": true became 1, "input_dim": 4294967300 became 4, and a float beyond an
// integer's range ("input_dim": 1e10) is undefined behaviour (found by tests/fuzz/model_card).
template <typename T>
std::string NumberProblem(const json& v) {
  if constexpr (std::is_arithmetic_v<T>) {
    if (!v.is_number() && !v.is_boolean()) return "";  // get<T>() refuses strings, null, ...
    if constexpr (std::is_integral_v<T>) {
      constexpr T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
      const bool fits = v.is_number_unsigned()  ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                        : v.is_number_integer() ? v.get<int64_t>() >= lo && v.get<int64_t>() <= hi
                                                : false;
      if (!fits) return absl::StrCat(v.dump(), " is not an integer in [", lo, ", ", hi, "]");
    } else {
      if (!v.is_number()) return absl::StrCat(v.dump(), " is not a number");
      if (std::abs(v.get<double>()) > std::numeric_limits<T>::max()) {
        return absl::StrCat(v.dump(), " is beyond the range of ", sizeof(T) * 8, "-bit floats");
      }
    }
  } else if constexpr (IsVector<T>::value) {
    if (!v.is_array()) return "";
    for (size_t i = 0; i < v.size(); ++i) {
      std::string problem = NumberProblem<typename T::value_type>(v[i]);
      if (!problem.empty()) return absl::StrCat("element ", i, ": ", problem);
    }
  } else if constexpr (IsStringMap<T>::value) {
    if (!v.is_object()) return "";
    for (const auto& [k, item] : v.items()) {
      std::string problem = NumberProblem<typename T::mapped_type>(item);
      if (!problem.empty()) return absl::StrCat("'", k, "': ", problem);
    }
  }
  return "";
}

// Reads field `key` of `obj` into `out`, or says which field of which file is missing or mistyped.
template <typename T>
absl::Status Get(const json& obj, const char* key, T& out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end())
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing '", key, "'"));
  if (std::string problem = NumberProblem<T>(*it); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field '", key, "': ", problem));
  }
  try {
    out = it->get<T>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field '", key, "' has the wrong type (", it->type_name(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelCard> ModelCardFromJson(const json& j, const std::string& source) {
  if (!j.is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  ModelCard card;
  ARG_RETURN_IF_ERROR(Get(j, "name", card.name, source));
  ARG_RETURN_IF_ERROR(Get(j, "version", card.version, source));
  ARG_RETURN_IF_ERROR(Get(j, "task", card.task, source));
  ARG_RETURN_IF_ERROR(Get(j, "input_dim", card.input_dim, source));
  ARG_RETURN_IF_ERROR(Get(j, "labels", card.labels, source));
  ARG_RETURN_IF_ERROR(Get(j, "output", card.output, source));
  ARG_RETURN_IF_ERROR(Get(j, "model_sha256", card.model_sha256, source));
  if (card.version <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": version must be a positive integer, got ", card.version));
  }
  if (card.task != "binary" && card.task != "multiclass") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": task must be 'binary' or 'multiclass', got '", card.task, "'"));
  }
  if (card.input_dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": input_dim must be positive"));
  }
  if (card.labels.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": needs at least two labels"));
  }
  if (card.output != "probabilities" && card.output != "logits") {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": output must be 'probabilities' or 'logits', got '", card.output, "'"));
  }
  const std::pair<const char*, json*> sections[] = {{"architecture", &card.architecture},
                                                    {"hyperparameters", &card.hyperparameters},
                                                    {"dataset", &card.dataset},
                                                    {"metrics", &card.metrics},
                                                    {"config", &card.config},
                                                    {"review", &card.review},
                                                    {"provenance", &card.provenance}};
  for (const auto& [key, slot] : sections) {
    if (j.contains(key)) *slot = j.at(key);
  }
  if (j.contains("compression")) card.compression = j.at("compression");
  if (j.contains("quantization")) {
    card.quantization = j.at("quantization");
    const json& q = card.quantization;
    if (!q.is_object() || !q.contains("engine") || !q.at("engine").is_string() ||
        q.at("engine").get<std::string>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": quantization must be an object naming its engine"));
    }
  }
  if (j.contains("decision")) {
    card.decision_json = j.at("decision");
    ARG_ASSIGN_OR_RETURN(card.decision,
                         DecisionPolicyFromJson(card.decision_json, card.labels, source));
  }
  if (j.contains("evidence")) {
    card.evidence_json = j.at("evidence");
    ARG_ASSIGN_OR_RETURN(card.evidence, EvidenceIndexFromJson(card.evidence_json, source));
  }
  (void)Get(j, "created", card.created, source);
  (void)Get(j, "trainer_version", card.trainer_version, source);
  (void)Get(j, "torch_version", card.torch_version, source);

  if (auto stats = j.find("input_statistics"); stats != j.end() && stats->contains("l2_norm")) {
    const json& n = stats->at("l2_norm");
    const std::string where = absl::StrCat(source, ": input_statistics.l2_norm");
    ARG_RETURN_IF_ERROR(Get(n, "mean", card.input_norm.mean, where));
    ARG_RETURN_IF_ERROR(Get(n, "std", card.input_norm.std, where));
    ARG_RETURN_IF_ERROR(Get(n, "min", card.input_norm.min, where));
    ARG_RETURN_IF_ERROR(Get(n, "max", card.input_norm.max, where));
    (void)Get(n, "quantiles", card.input_norm.quantiles, where);
  }
  if (auto golden = j.find("golden"); golden != j.end()) {
    const std::string where = absl::StrCat(source, ": golden");
    ARG_RETURN_IF_ERROR(Get(*golden, "tolerance", card.golden_tolerance, where));
    json examples;
    ARG_RETURN_IF_ERROR(Get(*golden, "examples", examples, where));
    for (const json& e : examples) {
      GoldenExample g;
      ARG_RETURN_IF_ERROR(Get(e, "id", g.id, where));
      ARG_RETURN_IF_ERROR(Get(e, "input", g.input, where));
      ARG_RETURN_IF_ERROR(Get(e, "probabilities", g.probabilities, where));
      if (static_cast<int>(g.input.size()) != card.input_dim ||
          g.probabilities.size() != card.labels.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": example '", g.id, "' has ", g.input.size(), " inputs and ",
                         g.probabilities.size(), " probabilities, expected ", card.input_dim,
                         " and ", card.labels.size()));
      }
      card.golden.push_back(std::move(g));
    }
  }
  return card;
}

absl::StatusOr<ModelCard> ReadModelCard(const std::string& path) {
  ARG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON"));
  return ModelCardFromJson(j, path);
}

}  // namespace arginator
