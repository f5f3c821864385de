#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace arginator::trainer {

struct RocCurve {
  std::vector<double> fpr, tpr;  // from (0,0) to (1,1)
  double auc = 0;
};

struct ClassReport {
  std::string label;
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

// Classification quality. For binary tasks precision/recall/f1/roc_auc are those of the positive
// class (label 1); for multiclass they are macro averages and roc_auc is one-vs-rest macro.
struct ClassificationMetrics {
  double loss = 0;  // mean cross-entropy, -log p(true)
  double accuracy = 0, precision = 0, recall = 0, f1 = 0, roc_auc = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<ClassReport> per_class;
  std::vector<RocCurve> roc;  // binary: one curve (positive class); multiclass: one per class
  int64_t count = 0;
};

// ROC curve of scores against binary truth; ties in score are one step. AUC by trapezoids.
// With no positives or no negatives the AUC is undefined and reported as NaN.
RocCurve ComputeRoc(const std::vector<double>& scores, const std::vector<bool>& positive);

// `probabilities` is row-major [n, labels.size()].
ClassificationMetrics Evaluate(const std::vector<int>& truth,
                               const std::vector<float>& probabilities,
                               const std::vector<std::string>& labels);

// Macro F1: the unweighted mean of the per-class F1 (for binary tasks too, so a model that calls
// every protein the majority class scores about half, not the majority's F1).
double MacroF1(const ClassificationMetrics& m);

// JSON without the ROC points (those go to the charts).
nlohmann::json MetricsToJson(const ClassificationMetrics& m);

// A per-class report and confusion matrix as aligned text.
std::string FormatReport(const ClassificationMetrics& m);

}  // namespace arginator::trainer
