#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/decision_policy.h"
#include "nlohmann/json.hpp"

namespace arginator {

// L2-norm statistics of the training inputs: the reference for out-of-distribution checks.
struct NormStats {
  double mean = 0, std = 0, min = 0, max = 0;
  std::map<std::string, double> quantiles;  // "p0.1", "p1", "p5", "p50", "p95", "p99", "p99.9"
};

// A few held-out inputs with the probabilities the trainer computed for them, so a server can prove
// it loaded the same model (|served - recorded| <= golden_tolerance for every probability).
struct GoldenExample {
  std::string id;
  std::vector<float> input;
  std::vector<float> probabilities;
};

// model.json: everything known about one published model version. The trainer writes it; the
// server reads it. Fields the server acts on are typed; descriptive sections stay JSON objects.
struct ModelCard {
  std::string name;
  int64_t version = 0;
  std::string task;  // "binary" or "multiclass"
  int input_dim = 0;
  std::vector<std::string> labels;       // output column i is labels[i]
  std::string output = "probabilities";  // the TorchScript returns softmax probabilities
  nlohmann::json architecture = nlohmann::json::object();
  nlohmann::json hyperparameters = nlohmann::json::object();
  nlohmann::json dataset = nlohmann::json::object();  // files + sha256, class counts, splits, seed
  nlohmann::json metrics = nlohmann::json::object();  // {"val": {...}, "test": {...}}
  nlohmann::json config = nlohmann::json::object();   // the resolved training config
  // For a reviewer: embedder (model, precision, pooling), label source, intended use, limits.
  nlohmann::json review = nlohmann::json::object();
  // Where and from what it was trained: source commit, host.
  nlohmann::json provenance = nlohmann::json::object();
  // A compressed version (arginator-train compress): its parent, method, settings, sizes and the
  // test metrics of both. Empty for a trained one.
  nlohmann::json compression = nlohmann::json::object();
  // An int8 model: {"engine": "onednn", ...}; the server needs that quantized engine. Null for
  // fp32.
  nlohmann::json quantization = nullptr;
  NormStats input_norm;
  // model.json "decision" as written (calibration, thresholds, confidence, out of distribution,
  // and the figures measured with them), and the part the server applies, typed.
  nlohmann::json decision_json = nlohmann::json::object();
  DecisionPolicy decision;
  // model.json "evidence" as written (index kind, size, build time) and its files, typed.
  nlohmann::json evidence_json = nlohmann::json::object();
  EvidenceIndex evidence;
  std::vector<GoldenExample> golden;
  double golden_tolerance = 1e-4;
  std::string model_sha256;  // of model.pt
  std::string created;       // RFC 3339 UTC
  std::string trainer_version;
  std::string torch_version;
};

nlohmann::json ModelCardToJson(const ModelCard& card);

// The quantized engine `card` needs ("onednn"), or "" for a float model.
std::string QuantizedEngine(const ModelCard& card);

// Parses and validates; errors name `source` and the offending field.
absl::StatusOr<ModelCard> ModelCardFromJson(const nlohmann::json& json, const std::string& source);

absl::StatusOr<ModelCard> ReadModelCard(const std::string& path);

}  // namespace arginator
