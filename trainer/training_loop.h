#pragma once

#include <torch/torch.h>

#include <ostream>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_matrix.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "trainer/split.h"

namespace arginator::trainer {

struct EpochStats {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, train_f1 = 0;
  double val_loss = 0, val_accuracy = 0, val_f1 = 0;
  double samples_per_s = 0, seconds = 0;
};

struct TrainResult {
  Classifier model{nullptr};  // restored to the best epoch, in eval mode, on the CPU
  std::vector<EpochStats> history;
  int best_epoch = 0;
  double best_val_loss = 0;
  bool stopped_early = false;
};

// Trains a classifier on `split.train` (class-balanced sampling if configured), validates on
// `split.val` after each epoch, stops early on validation loss, and keeps the best epoch.
// `labels` are indices into `label_names`, the model's outputs.
// Same config, data and seed give the same weights on the CPU. Prints one line per epoch to `log`
// and a progress bar on a terminal.
// With `initial`, training starts from its weights and architecture (fine-tuning a pruned
// model) instead of fresh ones.
absl::StatusOr<TrainResult> TrainClassifier(const TrainConfig& config, const EmbeddingMatrix& x,
                                            const std::vector<int>& labels,
                                            const std::vector<std::string>& label_names,
                                            const SplitIndices& split, std::ostream& log,
                                            Classifier initial = nullptr);

// Softmax probabilities of `model` for `rows` of `x` (row-major [rows.size(), classes]).
std::vector<float> PredictProbabilities(Classifier& model, const EmbeddingMatrix& x,
                                        const std::vector<size_t>& rows);

// The rows of `x` as a [rows.size(), dim] float tensor (copied).
torch::Tensor GatherRows(const EmbeddingMatrix& x, const std::vector<size_t>& rows);

}  // namespace arginator::trainer
