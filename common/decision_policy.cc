#include "common/decision_policy.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/embedding_files.h"
#include "common/embedding_matrix.h"
#include "common/row_projection.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace arginator {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": decision.", what));
}

absl::StatusOr<double> Number(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number())
    return Invalid(where, absl::StrCat(key, " must be a number"));
  return it->get<double>();
}

}  // namespace

const char* ConfidenceName(Confidence c) {
  switch (c) {
    case Confidence::kHigh:
      return "High";
    case Confidence::kMedium:
      return "Medium";
    case Confidence::kLow:
      break;
  }
  return "Low";
}

void DensityModel::Prepare() {
  mean_sq_ = RowDot(mean.data(), mean.data(), dim);
  mean_projection_.clear();
  for (int i = 0; i < k(); ++i) {
    mean_projection_.push_back(
        RowDot(mean.data(), components.data() + static_cast<size_t>(i) * dim, dim));
  }
  basis_ = mean;
  basis_.insert(basis_.end(), components.begin(), components.end());
}

double DensityModel::Score(const float* x) const {
  double score = 0;
  ScoreRows(x, 1, &score);
  return score;
}

void DensityModel::ScoreRows(const float* x, int64_t n, double* scores) const {
  if (n <= 0) return;
  const int cols = k() + 1;
  // p[0] = x . mean, p[1 + i] = x . u_i for every row at once, each row's the same bits whatever
  // rows come with it (common/row_projection.h). Reused from call to call on this thread.
  thread_local std::vector<float> projections;
  projections.resize(static_cast<size_t>(n * cols));
  ProjectRows(basis_.data(), cols, dim, x, n, projections.data());
  for (int64_t r = 0; r < n; ++r) {
    const float* row = x + r * dim;
    const float* p = projections.data() + r * cols;
    const double x_sq = RowDot(row, row, dim);
    const double centred_sq = std::max(0.0, x_sq - 2.0 * p[0] + mean_sq_);
    double explained = 0, whitened = 0;
    for (int i = 0; i < k(); ++i) {
      const double z = p[1 + i] - mean_projection_[static_cast<size_t>(i)];
      explained += z * z;
      whitened += z * z / eigenvalues[static_cast<size_t>(i)];
    }
    const double residual = std::max(0.0, centred_sq - explained);
    scores[r] = (whitened + residual / residual_variance) / dim;
  }
}

absl::StatusOr<DecisionPolicy> DecisionPolicyFromJson(const json& j,
                                                      const std::vector<std::string>& labels,
                                                      const std::string& where) {
  DecisionPolicy policy;
  if (!j.is_object()) return Invalid(where, "must be an object");
  policy.present = true;
  const json calibration = j.value("calibration", json::object());
  ARG_ASSIGN_OR_RETURN(policy.temperature, Number(calibration, "temperature", where));
  if (!(policy.temperature > 0) || !std::isfinite(policy.temperature)) {
    return Invalid(where, "calibration.temperature must be a positive number");
  }
  const json thresholds = j.value("thresholds", json::object());
  for (const std::string& label : labels) {
    auto it = thresholds.find(label);
    if (it == thresholds.end() || !it->is_object()) {
      return Invalid(where, absl::StrCat("thresholds has no entry for label '", label, "'"));
    }
    const json t = it->value("threshold", json(-1));
    if (t.is_null()) {
      policy.thresholds.push_back(std::numeric_limits<double>::infinity());
    } else if (t.is_number() && t.get<double>() >= 0 && t.get<double>() <= 1) {
      policy.thresholds.push_back(t.get<double>());
    } else {
      return Invalid(where, absl::StrCat("thresholds.", label,
                                         ".threshold must be in [0, 1] or null (never called)"));
    }
  }
  const json confidence = j.value("confidence", json::object());
  ARG_ASSIGN_OR_RETURN(policy.high, Number(confidence, "high", where));
  if (!(policy.high >= 0 && policy.high <= 1))
    return Invalid(where, "confidence.high must be in [0, 1]");
  const json ood = j.value("out_of_distribution", json::object());
  if (ood.contains("file")) {
    if (!ood.at("file").is_string() || !ood.value("sha256", json()).is_string()) {
      return Invalid(where, "out_of_distribution.file and .sha256 must be strings");
    }
    policy.density_file = ood.at("file").get<std::string>();
    policy.density_sha256 = ood.at("sha256").get<std::string>();
    if (policy.density_file.empty() || policy.density_file.find('/') != std::string::npos) {
      return Invalid(where, "out_of_distribution.file must name a file of the version directory");
    }
    const json eigenvalues = ood.value("eigenvalues", json());
    if (!eigenvalues.is_array() || eigenvalues.empty()) {
      return Invalid(where, "out_of_distribution.eigenvalues must be a non-empty array");
    }
    for (const json& e : eigenvalues) {
      if (!e.is_number() || !(e.get<double>() > 0)) {
        return Invalid(where, "out_of_distribution.eigenvalues must be positive numbers");
      }
      policy.eigenvalues.push_back(e.get<double>());
    }
    ARG_ASSIGN_OR_RETURN(policy.residual_variance, Number(ood, "residual_variance", where));
    ARG_ASSIGN_OR_RETURN(policy.ood_cutoff, Number(ood, "cutoff", where));
    if (!(policy.residual_variance > 0) || !(policy.ood_cutoff > 0)) {
      return Invalid(where, "out_of_distribution.residual_variance and .cutoff must be positive");
    }
  }
  return policy;
}

absl::StatusOr<EvidenceIndex> EvidenceIndexFromJson(const json& j, const std::string& where) {
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": evidence.", what));
  };
  if (!j.is_object()) return bad("must be an object");
  EvidenceIndex e;
  for (const auto& [key, slot] : {std::pair<const char*, std::string*>{"file", &e.file},
                                  {"sha256", &e.sha256},
                                  {"table_file", &e.table_file},
                                  {"table_sha256", &e.table_sha256}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
      return bad("file, sha256, table_file and table_sha256 must be non-empty strings");
    }
    *slot = it->get<std::string>();
  }
  if (e.file.find('/') != std::string::npos || e.table_file.find('/') != std::string::npos) {
    return bad("file and table_file must name files of the version directory");
  }
  auto count = j.find("count");
  if (count == j.end() || !count->is_number_integer() || count->get<int64_t>() < 1) {
    return bad("count must be a positive integer");
  }
  e.count = count->get<int64_t>();
  return e;
}

void CalibrateRow(const float* p, int k, double temperature, float* out) {
  double top = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < k; ++i) {
    top = std::max(top, std::log(std::max<double>(p[i], kMinCalibratedProbability)));
  }
  double logits[64];
  std::vector<double> large;
  double* z = logits;
  if (k > 64) {
    large.resize(static_cast<size_t>(k));
    z = large.data();
  }
  double sum = 0;
  for (int i = 0; i < k; ++i) {
    z[i] =
        std::exp((std::log(std::max<double>(p[i], kMinCalibratedProbability)) - top) / temperature);
    sum += z[i];
  }
  for (int i = 0; i < k; ++i) out[i] = static_cast<float>(z[i] / sum);
}

RowDecision Decide(const float* calibrated, int k, bool out_of_distribution,
                   const DecisionPolicy& policy) {
  RowDecision d;
  d.top = static_cast<int>(std::max_element(calibrated, calibrated + k) - calibrated);
  d.top_probability = calibrated[d.top];
  const double threshold =
      policy.thresholds.empty() ? 0.0 : policy.thresholds[static_cast<size_t>(d.top)];
  if (out_of_distribution || !(d.top_probability >= threshold)) return d;
  d.call = d.top;
  d.confidence = d.top_probability >= policy.high ? Confidence::kHigh : Confidence::kMedium;
  return d;
}

absl::StatusOr<DensityModel> LoadDensityModel(const std::string& dir, const DecisionPolicy& policy,
                                              int dim) {
  const std::string path = (std::filesystem::path(dir) / policy.density_file).string();
  ARG_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
  if (sha != policy.density_sha256) {
    return absl::DataLossError(absl::StrCat(path, ": sha256 ", sha,
                                            " is not the one model.json records (",
                                            policy.density_sha256, ")"));
  }
  EmbeddingReadOptions options;
  options.dim = dim;
  ARG_ASSIGN_OR_RETURN(EmbeddingMatrix m, ReadEmbeddingFile(path, options, nullptr));
  const size_t k = policy.eigenvalues.size();
  if (m.rows() != k + 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": has ", m.rows(), " rows; model.json's ",
                                                   k, " eigenvalues need ", k + 1));
  }
  DensityModel d;
  d.dim = dim;
  d.mean.assign(m.row(0), m.row(0) + dim);
  d.components.assign(m.row(1), m.row(1) + k * static_cast<size_t>(dim));
  d.eigenvalues = policy.eigenvalues;
  d.residual_variance = policy.residual_variance;
  d.Prepare();
  return d;
}

}  // namespace arginator
