#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace arginator {

// How a version turns its probabilities into a call a reviewer can act on (model.json
// "decision", fitted by arginator-train on the validation split, applied by the server to every
// answer; docs/model-json.md):
//   1. calibration: temperature scaling, p_k^(1/T) renormalised, which is exactly
//      softmax(logits / T) of the network's logits (their shared offset cancels);
//   2. out of distribution: the input's L2 norm outside the training range, or its density score
//      (DensityModel::Score) above the cut-off chosen on validation;
//   3. the call: the most probable label when its calibrated probability reaches that label's
//      threshold and the input is in distribution; else "uncertain";
//   4. the confidence: High when the call's calibrated probability also reaches `high`, Medium
//      for any other call, Low for "uncertain".
inline constexpr char kUncertainCall[] = "uncertain";

enum class Confidence : int { kLow = 0, kMedium = 1, kHigh = 2 };
const char* ConfidenceName(Confidence c);  // "Low", "Medium", "High"

// The smallest probability calibration takes the log of: a float32 softmax can underflow to 0.
inline constexpr double kMinCalibratedProbability = 1e-30;

// A probabilistic PCA (Tipping & Bishop 1999) of the training embeddings: the out-of-distribution
// detector that looks at the embedding itself, not only its norm. Its arrays live in the version's
// density.npy (row 0 the mean, rows 1..k the unit principal directions); the card holds the
// eigenvalues and the residual variance.
struct DensityModel {
  int dim = 0;
  std::vector<float> mean;          // [dim]
  std::vector<float> components;    // [k, dim], unit eigenvectors, largest eigenvalue first
  std::vector<double> eigenvalues;  // [k]
  double residual_variance = 0;     // sigma^2: the mean of the eigenvalues left out

  int k() const { return static_cast<int>(eigenvalues.size()); }
  // Computes what Score reuses for every input (the mean's projections); call once the arrays
  // are set.
  void Prepare();
  // The squared Mahalanobis distance of `x` under the PPCA covariance (sum of z_i^2 / lambda_i
  // over the components plus the residual's squared norm over sigma^2), divided by dim: about 1
  // for an input like the training data, larger the further it lies from it.
  double Score(const float* x) const;
  // Score of each of `n` rows of `x` (n * dim floats) into `scores`: a row's score is the same
  // alone or among others. The k + 1 projections (65 dot products of 1024 floats per row by
  // default) cost about a third of the default network's forward: the server computes them once
  // per batch (DynamicBatcher's row scorer), where several rows share each read of the basis.
  void ScoreRows(const float* x, int64_t n, double* scores) const;

 private:
  std::vector<float> basis_;             // [k + 1, dim]: the mean, then the components
  std::vector<double> mean_projection_;  // u_i . mean
  double mean_sq_ = 0;
};

// The card's "decision" section, typed. `present` is false for a version trained before it
// existed: then T = 1, every threshold 0 and no density model (the call is the most probable
// label unless the norm is out of range).
struct DecisionPolicy {
  bool present = false;
  double temperature = 1.0;
  std::vector<double> thresholds;  // per label; +inf: the label is never called
  double high = 0.9;               // the calibrated probability of a High-confidence call
  // The density detector: file, its sha256, and the figures the server needs beside the arrays.
  std::string density_file;  // "" = none
  std::string density_sha256;
  std::vector<double> eigenvalues;
  double residual_variance = 0;
  double ood_cutoff = std::numeric_limits<double>::infinity();
};

// The card's "evidence" section, typed: the version's reference index (its labelled training
// embeddings, L2-normalised, searched by inner product = cosine) and the table naming each row.
// Absent (file "") in versions from older trainers: they answer no evidence.
struct EvidenceIndex {
  std::string file;  // "" = none
  std::string sha256;
  std::string table_file;  // one row per reference: id, label
  std::string table_sha256;
  int64_t count = 0;
};
inline constexpr int kMaxEvidence = 50;  // nearest references one answer may ask for

absl::StatusOr<EvidenceIndex> EvidenceIndexFromJson(const nlohmann::json& j,
                                                    const std::string& where);

// Parses model.json "decision" for a model with `labels` and inputs of `dim`; errors name
// `where` and the field.
absl::StatusOr<DecisionPolicy> DecisionPolicyFromJson(const nlohmann::json& j,
                                                      const std::vector<std::string>& labels,
                                                      const std::string& where);

// Calibrated probabilities of one row of `k` probabilities into `out` (may alias `p`).
void CalibrateRow(const float* p, int k, double temperature, float* out);

// One row's decision from its calibrated probabilities.
struct RowDecision {
  int top = 0;                // the most probable label (first of equal maxima)
  float top_probability = 0;  // its calibrated probability
  int call = -1;              // the label called, or -1: uncertain
  Confidence confidence = Confidence::kLow;
};
RowDecision Decide(const float* calibrated, int k, bool out_of_distribution,
                   const DecisionPolicy& policy);

// Loads a version's density.npy, checking its sha256 against the policy and its shape
// ([eigenvalues + 1, dim]). DATA_LOSS for a changed file, INVALID_ARGUMENT for a wrong shape.
absl::StatusOr<DensityModel> LoadDensityModel(const std::string& dir, const DecisionPolicy& policy,
                                              int dim);

}  // namespace arginator
