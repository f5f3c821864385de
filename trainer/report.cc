#include "trainer/report.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"
#include "common/status_macros.h"
#include "trainer/charts.h"
#include "trainer/html_card.h"

namespace arginator::trainer {

std::string HistoryCsv(const std::vector<EpochStats>& history) {
  std::string csv =
      "epoch,train_loss,train_accuracy,train_f1,val_loss,val_accuracy,val_f1,samples_per_s,"
      "seconds\n";
  for (const auto& h : history) {
    absl::StrAppend(&csv, absl::StrFormat("%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f\n", h.epoch,
                                          h.train_loss, h.train_accuracy, h.train_f1, h.val_loss,
                                          h.val_accuracy, h.val_f1, h.samples_per_s, h.seconds));
  }
  return csv;
}

absl::Status WriteReliabilityChart(const std::string& path,
                                   const std::vector<ReliabilityBin>& before,
                                   const std::vector<ReliabilityBin>& after, double temperature) {
  auto curve = [](std::string name, const std::vector<ReliabilityBin>& bins) {
    Series s{std::move(name), {}, {}};
    for (const ReliabilityBin& b : bins) {
      if (b.count == 0) continue;
      s.x.push_back(b.confidence);
      s.y.push_back(b.accuracy);
    }
    return s;
  };
  return WriteLineChart(
      path,
      {curve("model's probabilities", before),
       curve(absl::StrFormat("calibrated (temperature %.3f)", temperature), after)},
      {"Reliability (test set): accuracy against top probability, per bin", "mean top probability",
       "accuracy", /*unit_square=*/true});
}

absl::Status WriteRunReport(const std::string& dir, const std::vector<EpochStats>& history,
                            const ClassificationMetrics* val, const ClassificationMetrics& test,
                            const std::vector<std::string>& labels, nlohmann::json summary) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  auto in_dir = [&](const char* name) { return (fs::path(dir) / name).string(); };

  if (val) summary["val"] = MetricsToJson(*val);
  summary["test"] = MetricsToJson(test);
  ARG_RETURN_IF_ERROR(WriteFileDurably(in_dir("metrics.json"), summary.dump(2) + "\n"));

  if (!history.empty()) {
    ARG_RETURN_IF_ERROR(WriteFileDurably(in_dir("history.csv"), HistoryCsv(history)));
    Series train_loss{"train loss", {}, {}}, val_loss{"val loss", {}, {}},
        train_acc{"train accuracy", {}, {}}, val_acc{"val accuracy", {}, {}},
        val_f1{"val F1", {}, {}};
    for (const auto& h : history) {
      for (Series* s : {&train_loss, &val_loss, &train_acc, &val_acc, &val_f1}) {
        s->x.push_back(h.epoch);
      }
      train_loss.y.push_back(h.train_loss);
      val_loss.y.push_back(h.val_loss);
      train_acc.y.push_back(h.train_accuracy);
      val_acc.y.push_back(h.val_accuracy);
      val_f1.y.push_back(h.val_f1);
    }
    ARG_RETURN_IF_ERROR(WriteLineChart(in_dir("loss_curve.png"), {train_loss, val_loss},
                                       {"Cross-entropy loss per epoch", "epoch", "loss", false}));
    ARG_RETURN_IF_ERROR(WriteLineChart(in_dir("accuracy_curve.png"), {train_acc, val_acc, val_f1},
                                       {"Accuracy and F1 per epoch", "epoch", "score", false}));
  }

  std::vector<Series> roc;
  for (size_t c = 0; c < test.roc.size(); ++c) {
    const std::string& label = test.roc.size() == 1 ? labels.back() : labels[c];
    roc.push_back({absl::StrFormat("%s (AUC %.3f)", label, test.roc[c].auc), test.roc[c].fpr,
                   test.roc[c].tpr});
  }
  ARG_RETURN_IF_ERROR(
      WriteLineChart(in_dir("roc.png"), roc,
                     {test.roc.size() == 1 ? "ROC (test set)" : "ROC one-vs-rest (test set)",
                      "false positive rate", "true positive rate", /*unit_square=*/true}));
  return WriteConfusionMatrixChart(in_dir("confusion_matrix.png"), "Confusion matrix (test set)",
                                   labels, test.confusion);
}

absl::Status WriteHtmlCard(const std::string& dir, const nlohmann::json& card,
                           const nlohmann::json& run) {
  namespace fs = std::filesystem;
  std::vector<std::string> images;  // the charts written above, whichever this run has
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".png") {
      images.push_back(entry.path().filename().string());
    }
  }
  return WriteFileDurably((fs::path(dir) / kHtmlCardFile).string(),
                          RenderHtmlCard(card, run, images));
}

}  // namespace arginator::trainer
