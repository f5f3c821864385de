#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/publish.h"

namespace arginator::trainer {

// `arginator-train compress`: a published fp32 version made smaller or faster, evaluated on the
// test split it was trained with, and published as the next version of the same model.
struct CompressOptions {
  std::string model_dir;          // <repository>/<name>/<version>
  std::string method;             // "int8" or "prune"
  std::string engine = "onednn";  // int8: the quantized engine the model is built for
  double prune_fraction = 0.5;    // prune: hidden units removed from every hidden layer
  int finetune_epochs = 3;        // prune: epochs of fine-tuning after the cut (0 = none)
  double tolerance = 0.01;        // largest macro-F1 drop on the test split that may publish
  std::vector<std::string>
      overrides;  // on the parent's config, e.g. data.dir=... experiment.lr=...
};

struct CompressOutcome {
  ClassificationMetrics parent_test, test;
  int64_t size_before = 0, size_after = 0;  // model.pt bytes
  PublishedVersion published;
};

// Removes the `fraction` least important hidden units of every hidden layer of an FFNN (at least
// one stays): a unit's importance is the L2 norm of its incoming weights times that of its
// outgoing ones, so a unit that reads strongly but whose output is ignored (or the reverse) goes.
// Returns a dense FFNN with the kept units' weights.
absl::StatusOr<Classifier> PruneHiddenUnits(Classifier& model, double fraction);

// Reads the version (model.pt checked against model.json), rebuilds its data and split from its
// recorded config (each file's sha256 must match the recorded one), compresses it, evaluates both
// on the test split, and publishes the result unless macro F1 dropped by more than the tolerance,
// which is FAILED_PRECONDITION with both figures (nothing published).
absl::StatusOr<CompressOutcome> RunCompress(const CompressOptions& options, std::ostream& log);

}  // namespace arginator::trainer
