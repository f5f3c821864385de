#include "trainer/training_loop.h"

#include <chrono>
#include <cstring>
#include <iomanip>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/blas_threads.h"
#include "common/progress.h"
#include "trainer/metrics.h"
#include "trainer/random.h"

namespace arginator::trainer {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainConfig::Experiment& e,
                                                       Classifier& model) {
  if (e.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(model->parameters(),
                                               torch::optim::SGDOptions(e.lr)
                                                   .momentum(e.momentum)
                                                   .nesterov(true)
                                                   .weight_decay(e.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(
      model->parameters(), torch::optim::AdamOptions(e.lr).weight_decay(e.weight_decay));
}

}  // namespace

torch::Tensor GatherRows(const EmbeddingMatrix& x, const std::vector<size_t>& rows) {
  torch::Tensor out = torch::empty({static_cast<int64_t>(rows.size()), x.dim}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(dst + i * x.dim, x.row(rows[i]), sizeof(float) * x.dim);
  }
  return out;
}

std::vector<float> PredictProbabilities(Classifier& model, const EmbeddingMatrix& x,
                                        const std::vector<size_t>& rows) {
  torch::InferenceMode guard;
  model->eval();
  auto device = model->parameters().front().device();
  std::vector<float> out;
  out.reserve(rows.size() * model->spec().num_classes);
  constexpr size_t kChunk = 4096;
  for (size_t start = 0; start < rows.size(); start += kChunk) {
    std::vector<size_t> chunk(rows.begin() + start,
                              rows.begin() + std::min(rows.size(), start + kChunk));
    torch::Tensor probs =
        torch::softmax(model->forward(GatherRows(x, chunk).to(device)), 1).to(torch::kCPU);
    out.insert(out.end(), probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
  }
  return out;
}

absl::StatusOr<TrainResult> TrainClassifier(const TrainConfig& config, const EmbeddingMatrix& x,
                                            const std::vector<int>& labels,
                                            const std::vector<std::string>& label_names,
                                            const SplitIndices& split, std::ostream& log,
                                            Classifier initial) {
  const auto& e = config.experiment;
  if (split.train.empty() || split.val.empty()) {
    return absl::FailedPreconditionError("the training and validation splits must not be empty");
  }
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(e.device);
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("experiment.device '", e.device, "' is not a device (cpu, cuda, cuda:N)"));
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        absl::StrCat("experiment.device is '", e.device, "' but CUDA is not available"));
  }
  if (e.threads > 0) {
    torch::set_num_threads(e.threads);
    SetBlasThreads(e.threads);
  }
  torch::manual_seed(e.seed);

  ClassifierSpec spec{config.model.kind, x.dim, config.model.hidden, config.model.dropout,
                      static_cast<int>(label_names.size())};
  TrainResult result;
  result.model = initial ? initial : Classifier(spec);
  result.model->to(device);
  auto optimizer = MakeOptimizer(e, result.model);

  std::vector<int> train_labels, val_labels;
  for (size_t r : split.train) train_labels.push_back(labels[r]);
  for (size_t r : split.val) val_labels.push_back(labels[r]);
  BalancedSampler sampler(split.train, train_labels);

  std::vector<torch::Tensor> best;
  result.best_val_loss = INFINITY;
  int epochs_without_improvement = 0;
  for (int epoch = 1; epoch <= e.epochs; ++epoch) {
    auto start = Clock::now();
    std::vector<size_t> order = split.train;
    if (config.data.balanced_sampling) {
      order = sampler.Sample(split.train.size(), e.seed * 1000003 + epoch);
    } else {
      Rng rng(e.seed * 1000003 + epoch);
      rng.Shuffle(order.begin(), order.end());
    }
    result.model->train();
    ProgressBar bar(absl::StrFormat("epoch %d/%d", epoch, e.epochs),
                    static_cast<int64_t>(order.size()));
    double loss_sum = 0;
    std::vector<int> seen_truth;
    std::vector<float> seen_probs;
    for (size_t b = 0; b < order.size(); b += e.batch_size) {
      std::vector<size_t> batch(order.begin() + b,
                                order.begin() + std::min(order.size(), b + e.batch_size));
      torch::Tensor xb = GatherRows(x, batch).to(device);
      std::vector<int64_t> yv;
      for (size_t r : batch) yv.push_back(labels[r]);
      torch::Tensor yb = torch::tensor(yv, torch::kInt64).to(device);
      optimizer->zero_grad();
      torch::Tensor logits = result.model->forward(xb);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, yb);
      loss.backward();
      optimizer->step();
      loss_sum += loss.item<double>() * batch.size();
      torch::Tensor probs = torch::softmax(logits.detach(), 1).to(torch::kCPU).contiguous();
      seen_probs.insert(seen_probs.end(), probs.data_ptr<float>(),
                        probs.data_ptr<float>() + probs.numel());
      for (int64_t y : yv) seen_truth.push_back(static_cast<int>(y));
      bar.Update(static_cast<int64_t>(b + batch.size()),
                 absl::StrFormat("loss %.4f", loss_sum / seen_truth.size()));
    }
    bar.Finish();
    double train_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ClassificationMetrics train_m = Evaluate(seen_truth, seen_probs, label_names);
    ClassificationMetrics val_m =
        Evaluate(val_labels, PredictProbabilities(result.model, x, split.val), label_names);

    EpochStats s;
    s.epoch = epoch;
    s.train_loss = loss_sum / seen_truth.size();
    s.train_accuracy = train_m.accuracy;
    s.train_f1 = train_m.f1;
    s.val_loss = val_m.loss;
    s.val_accuracy = val_m.accuracy;
    s.val_f1 = val_m.f1;
    s.samples_per_s = order.size() / std::max(1e-9, train_seconds);
    s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    result.history.push_back(s);

    bool improved = s.val_loss < result.best_val_loss - e.min_delta;
    log << absl::StrFormat(
               "epoch %2d/%d  train loss %.4f acc %.4f f1 %.4f | val loss %.4f acc %.4f f1 %.4f | "
               "%.0f samples/s  %.1fs%s",
               epoch, e.epochs, s.train_loss, s.train_accuracy, s.train_f1, s.val_loss,
               s.val_accuracy, s.val_f1, s.samples_per_s, s.seconds, improved ? "  *best" : "")
        << std::endl;
    if (improved) {
      result.best_val_loss = s.val_loss;
      result.best_epoch = epoch;
      best = SnapshotParameters(result.model);
      epochs_without_improvement = 0;
    } else if (++epochs_without_improvement >= e.patience) {
      result.stopped_early = epoch < e.epochs;
      log << "early stopping: validation loss has not improved for " << e.patience
          << " epoch(s); keeping epoch " << result.best_epoch << std::endl;
      break;
    }
  }
  if (!best.empty()) RestoreParameters(result.model, best);
  result.model->to(torch::kCPU);
  result.model->eval();
  return result;
}

}  // namespace arginator::trainer
