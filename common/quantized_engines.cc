#include "common/quantized_engines.h"

#include <ATen/Context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace arginator {
namespace {

std::string LowerName(at::QEngine e) {
  std::string name = c10::toString(e);
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  return name;
}

}  // namespace

std::vector<std::string> QuantizedEngineNames() {
  std::vector<std::string> names;
  for (at::QEngine e : at::globalContext().supportedQEngines()) {
    if (e != at::QEngine::NoQEngine) names.push_back(LowerName(e));
  }
  return names;
}

absl::StatusOr<std::string> SetQuantizedEngine(const std::string& engine) {
  const std::string previous = LowerName(at::globalContext().qEngine());
  for (at::QEngine e : at::globalContext().supportedQEngines()) {
    if (e != at::QEngine::NoQEngine && LowerName(e) == engine) {
      at::globalContext().setQEngine(e);
      return previous;
    }
  }
  const std::vector<std::string> names = QuantizedEngineNames();
  return absl::FailedPreconditionError(
      absl::StrCat("this LibTorch build has no quantized engine '", engine,
                   "' (it has: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
}

}  // namespace arginator
