#include "trainer/publish_gate.h"

#include "absl/strings/str_format.h"

namespace arginator::trainer {

GateVerdict JudgeCandidate(const PublishGate& gate, const ClassificationMetrics& candidate,
                           const std::optional<ServingScore>& serving) {
  GateVerdict verdict;
  auto refuse = [&](std::string reason) {
    verdict.publish = false;
    verdict.reasons.push_back(std::move(reason));
  };
  // Every test protein called one class: the confusion matrix has one non-empty column.
  int called_columns = 0, called = -1;
  for (size_t j = 0; j < candidate.per_class.size(); ++j) {
    int64_t n = 0;
    for (const auto& row : candidate.confusion) n += j < row.size() ? row[j] : 0;
    if (n > 0) ++called_columns, called = static_cast<int>(j);
  }
  if (called_columns == 1 && candidate.per_class.size() > 1) {
    refuse(absl::StrFormat("it calls all %d test proteins '%s'", candidate.count,
                           candidate.per_class[called].label));
  }
  const double macro = MacroF1(candidate);
  if (macro < gate.min_macro_f1) {
    refuse(absl::StrFormat("test macro F1 %.4f is below publish.min_macro_f1 %.4f", macro,
                           gate.min_macro_f1));
  }
  for (const auto& [label, minimum] : gate.min_class_f1) {
    const ClassReport* found = nullptr;
    for (const ClassReport& c : candidate.per_class) {
      if (c.label == label) found = &c;
    }
    if (found == nullptr) {
      refuse(absl::StrFormat("publish.min_class_f1 names '%s', which the model does not output",
                             label));
    } else if (found->f1 < minimum) {
      refuse(absl::StrFormat("test F1 of '%s' %.4f is below publish.min_class_f1.%s %.4f", label,
                             found->f1, label, minimum));
    }
  }
  if (serving && macro < serving->macro_f1 - gate.tolerance) {
    refuse(absl::StrFormat(
        "test macro F1 %.4f is worse than %s's %.4f on the same test split by more than "
        "publish.tolerance %.4f",
        macro, serving->name, serving->macro_f1, gate.tolerance));
  }
  return verdict;
}

}  // namespace arginator::trainer
