#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/registry/servable.h"

namespace arginator::server {

// Makes a Model from a model.pt path and the card's input width (TorchScript in production).
using ModelFactory =
    std::function<absl::StatusOr<std::unique_ptr<Model>>(const std::string& path, int input_dim)>;
// Makes the metrics observer of one version (its batcher and its requests).
using VersionObserverFactory = std::function<std::shared_ptr<VersionObserver>(
    const std::string& name, int64_t version, const std::vector<std::string>& labels)>;

// Loads a version directory the way the trainer published it and proves it before serving:
// both files are regular files within the size limits; model.json parses and names this model and
// version; model.pt matches its sha256; the TorchScript loads; its output width equals the number
// of labels; it reproduces every golden example's probabilities within the card's tolerance;
// warm-up batches run. Any failure is an error naming the directory and the check.
class DirectoryVersionLoader : public VersionLoader {
 public:
  struct Options {
    BatcherOptions batching;
    int warmup_batches = 3;  // forwards at max_batch_size before the version takes traffic
    // Both files must be regular files no larger than these (a FIFO or /dev/zero would hang it).
    uintmax_t max_card_bytes = uintmax_t{64} << 20;  // model.json: golden examples, metrics
    uintmax_t max_model_bytes = uintmax_t{4} << 30;  // model.pt
  };

  DirectoryVersionLoader(Options options, ModelFactory model_factory,
                         VersionObserverFactory observer_factory);

  absl::StatusOr<std::shared_ptr<ServableVersion>> Load(const std::string& name, int64_t version,
                                                        const std::string& dir) override;

 private:
  static constexpr int kLoaderNice = 10;  // added to the caller's nice for verification
  // Every check and the warm-up: a servable without its batcher yet.
  absl::StatusOr<std::shared_ptr<ServableVersion>> Verify(const std::string& name, int64_t version,
                                                          const std::string& dir) const;

  const Options options_;
  const ModelFactory model_factory_;
  const VersionObserverFactory observer_factory_;
};

}  // namespace arginator::server
