#include "trainer/label_scheme.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace arginator::trainer {

absl::StatusOr<LabelScheme> MakeLabelScheme(const std::string& task,
                                            const std::vector<std::string>& class_names) {
  const std::string found = absl::StrCat("[", absl::StrJoin(class_names, ", "), "]");
  if (class_names.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a classifier needs at least two classes; the data has ", found));
  }
  LabelScheme scheme;
  const auto non_bl = std::find(class_names.begin(), class_names.end(), "non_betalactamase");
  if (task == "binary" && non_bl != class_names.end() && class_names.size() > 2) {
    scheme.labels = {"non_betalactamase", "betalactamase"};
    for (const std::string& name : class_names) {
      scheme.label_of_class.push_back(name == "non_betalactamase" ? 0 : 1);
    }
    return scheme;
  }
  if (task == "binary" && class_names.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task binary needs exactly two classes, or a 'non_betalactamase' class beside the others; "
        "the data has ",
        found, " (use task=multiclass for more)"));
  }
  scheme.labels = class_names;
  if (task == "binary" && non_bl != class_names.end() && non_bl != class_names.begin()) {
    std::swap(scheme.labels[0], scheme.labels[1]);  // the negative class first, as the seed's
  }
  for (const std::string& name : class_names) {
    scheme.label_of_class.push_back(static_cast<int>(
        std::find(scheme.labels.begin(), scheme.labels.end(), name) - scheme.labels.begin()));
  }
  return scheme;
}

}  // namespace arginator::trainer
