#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace arginator::trainer {

// How the data's classes become the model's output labels, for a task:
//  - multiclass: one label per class, in the data's class order (the five Ambler-or-none classes
//    of the seed layout, or a lab's own set, e.g. B1/B2/B3);
//  - binary with a `non_betalactamase` class and others: non_betalactamase -> 0, every other class
//    -> 1 "betalactamase" (the seed project's binary task, from any finer labelling);
//  - binary with exactly two classes otherwise: the two classes as they are.
// Stored in model.json (dataset.classes, dataset.label_of_class), so eval and compress map a data
// set's classes the way the model was trained.
struct LabelScheme {
  std::vector<std::string> labels;  // model outputs, in order
  std::vector<int> label_of_class;  // class index -> label index
};

absl::StatusOr<LabelScheme> MakeLabelScheme(const std::string& task,
                                            const std::vector<std::string>& class_names);

}  // namespace arginator::trainer
