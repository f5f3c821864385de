#include "trainer/metrics.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

namespace arginator::trainer {
namespace {

double SafeDiv(double a, double b) { return b > 0 ? a / b : 0.0; }

}  // namespace

RocCurve ComputeRoc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  RocCurve roc;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  double p = std::count(positive.begin(), positive.end(), true);
  double n = positive.size() - p;
  roc.fpr.push_back(0);
  roc.tpr.push_back(0);
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    positive[order[i]] ? ++tp : ++fp;
    bool last_of_tie = i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]];
    if (last_of_tie) {
      roc.fpr.push_back(SafeDiv(fp, n));
      roc.tpr.push_back(SafeDiv(tp, p));
    }
  }
  if (p == 0 || n == 0) {
    roc.auc = NAN;
    return roc;
  }
  for (size_t i = 1; i < roc.fpr.size(); ++i) {
    roc.auc += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2;
  }
  return roc;
}

ClassificationMetrics Evaluate(const std::vector<int>& truth, const std::vector<float>& probs,
                               const std::vector<std::string>& labels) {
  const size_t k = labels.size(), n = truth.size();
  ClassificationMetrics m;
  m.count = static_cast<int64_t>(n);
  m.confusion.assign(k, std::vector<int64_t>(k, 0));
  double loss = 0;
  int64_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* row = probs.data() + i * k;
    size_t pred = std::max_element(row, row + k) - row;
    m.confusion[truth[i]][pred]++;
    correct += (static_cast<int>(pred) == truth[i]);
    loss -= std::log(std::max(1e-12, static_cast<double>(row[truth[i]])));
  }
  m.loss = SafeDiv(loss, n);
  m.accuracy = SafeDiv(correct, n);
  for (size_t c = 0; c < k; ++c) {
    double tp = m.confusion[c][c], predicted = 0, actual = 0;
    for (size_t j = 0; j < k; ++j) {
      predicted += m.confusion[j][c];
      actual += m.confusion[c][j];
    }
    ClassReport r{labels[c], SafeDiv(tp, predicted), SafeDiv(tp, actual), 0,
                  static_cast<int64_t>(actual)};
    r.f1 = SafeDiv(2 * r.precision * r.recall, r.precision + r.recall);
    m.per_class.push_back(r);
  }
  auto scores_of = [&](size_t c) {
    std::vector<double> s(n);
    std::vector<bool> pos(n);
    for (size_t i = 0; i < n; ++i) {
      s[i] = probs[i * k + c];
      pos[i] = truth[i] == static_cast<int>(c);
    }
    return ComputeRoc(s, pos);
  };
  if (k == 2) {
    const ClassReport& pos = m.per_class[1];
    m.precision = pos.precision;
    m.recall = pos.recall;
    m.f1 = pos.f1;
    m.roc.push_back(scores_of(1));
    m.roc_auc = m.roc[0].auc;
  } else {
    double auc_sum = 0;
    int auc_count = 0;
    for (size_t c = 0; c < k; ++c) {
      m.precision += m.per_class[c].precision / k;
      m.recall += m.per_class[c].recall / k;
      m.f1 += m.per_class[c].f1 / k;
      m.roc.push_back(scores_of(c));
      if (!std::isnan(m.roc.back().auc)) {
        auc_sum += m.roc.back().auc;
        ++auc_count;
      }
    }
    m.roc_auc = auc_count ? auc_sum / auc_count : NAN;
  }
  return m;
}

double MacroF1(const ClassificationMetrics& m) {
  if (m.per_class.empty()) return 0;
  double sum = 0;
  for (const ClassReport& c : m.per_class) sum += c.f1;
  return sum / static_cast<double>(m.per_class.size());
}

nlohmann::json MetricsToJson(const ClassificationMetrics& m) {
  nlohmann::json per_class = nlohmann::json::object();
  for (const auto& r : m.per_class) {
    per_class[r.label] = {
        {"precision", r.precision}, {"recall", r.recall}, {"f1", r.f1}, {"support", r.support}};
  }
  auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"count", m.count},          {"loss", num(m.loss)},
          {"accuracy", m.accuracy},    {"precision", m.precision},
          {"recall", m.recall},        {"f1", m.f1},
          {"roc_auc", num(m.roc_auc)}, {"confusion_matrix", m.confusion},
          {"per_class", per_class}};
}

std::string FormatReport(const ClassificationMetrics& m) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4);
  out << "  accuracy " << m.accuracy << "  precision " << m.precision << "  recall " << m.recall
      << "  F1 " << m.f1 << "  ROC-AUC " << m.roc_auc << "  loss " << m.loss << "  (n=" << m.count
      << ")\n";
  out << "  " << std::left << std::setw(20) << "label" << std::right << std::setw(10) << "precision"
      << std::setw(10) << "recall" << std::setw(10) << "f1" << std::setw(10) << "support\n";
  for (const auto& r : m.per_class) {
    out << "  " << std::left << std::setw(20) << r.label << std::right << std::setw(10)
        << r.precision << std::setw(10) << r.recall << std::setw(10) << r.f1 << std::setw(9)
        << r.support << "\n";
  }
  out << "  confusion matrix (rows: true, columns: predicted, in label order)\n";
  for (size_t i = 0; i < m.confusion.size(); ++i) {
    out << "  " << std::left << std::setw(20) << m.per_class[i].label << std::right;
    for (int64_t v : m.confusion[i]) out << std::setw(8) << v;
    out << "\n";
  }
  return out.str();
}

}  // namespace arginator::trainer
