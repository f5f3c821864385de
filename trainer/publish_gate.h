#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "trainer/metrics.h"

namespace arginator::trainer {

// What a candidate must show on its test split before `fit`, `sweep` (and `compress`, which has its
// own tolerance) publish it: a useless model is never served.
struct PublishGate {
  double min_macro_f1 = 0;                     // publish.min_macro_f1
  std::map<std::string, double> min_class_f1;  // publish.min_class_f1: label -> minimum test F1
  double tolerance = 0;  // publish.tolerance: how much worse than the serving version it may be
};

// The version being served, scored on the candidate's own test split.
struct ServingScore {
  std::string name;  // e.g. "betalactamase-class v3"
  double macro_f1 = 0;
};

struct GateVerdict {
  bool publish = true;
  std::vector<std::string> reasons;  // why not, each naming both figures
};

// A pure function of the figures: refused when the candidate calls every test protein one class,
// when its macro F1 or a class's F1 is below its minimum, or when it is worse than `serving` by
// more than the tolerance.
GateVerdict JudgeCandidate(const PublishGate& gate, const ClassificationMetrics& candidate,
                           const std::optional<ServingScore>& serving);

}  // namespace arginator::trainer
