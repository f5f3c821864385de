#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/registry/version_loader.h"

namespace arginator::server {

// Makes a Model from a model.pt path and its card (input width, quantized engine): TorchScript in
// production.
using ModelFactory = std::function<absl::StatusOr<std::unique_ptr<Model>>(const std::string& path,
                                                                          const ModelCard& card)>;
// Makes the metrics observer of one version (its batcher and its requests).
using VersionObserverFactory = std::function<std::shared_ptr<VersionObserver>(
    const std::string& name, int64_t version, const std::vector<std::string>& labels)>;

// Loads a version directory the way the trainer published it and proves it before serving
// (model.pt and model.json, and the files the card names beside them: density.npy and the
// reference index and table, each against its sha256):
// both files are regular files within the size limits and inside the repository; model.json parses
// and names this model and version; model.pt matches its sha256; the TorchScript loads; its output
// width equals the number of labels; it reproduces every golden example's probabilities within the
// card's tolerance; warm-up batches run. Any failure is an error naming the directory and the
// check.
//
// A load that does not finish within `load_timeout` (a TorchScript forward that loops, a stalled
// network mount) fails with DEADLINE_EXCEEDED and is abandoned: its thread cannot be interrupted
// and runs on detached until it returns, but the watcher goes on, later versions load and
// shutdown does not wait for it. Stop() ends the loads in progress the same way (CANCELLED).
class DirectoryVersionLoader : public VersionLoader {
 public:
  // From the config's models and batching sections (VersionLoaderOptions(config) in
  // server/component_options.h; configs/server.yaml has the defaults).
  struct Options {
    BatcherOptions batching;
    int warmup_batches = 0;  // forwards at max_batch_size before the version takes traffic
    // Both files must be regular files no larger than these (a FIFO or /dev/zero would hang it).
    uintmax_t max_card_bytes = 0;   // model.json: golden examples, metrics
    uintmax_t max_model_bytes = 0;  // model.pt
    absl::Duration load_timeout;    // checks + golden examples + warm-up
    // When set, both files must resolve (after every symlink) inside this directory, unless
    // links_outside_repository: a link planted in the repository must not make the server read
    // and serve a file from elsewhere on the host.
    std::string repository;
    bool links_outside_repository = false;
    int64_t max_input_dim = 0;  // server.max_input_dim: a wider model cannot take a full request
  };

  // `reference_factory` opens a version's reference index (model.json "evidence"); without one,
  // versions load without evidence and requests asking for it are refused.
  DirectoryVersionLoader(Options options, ModelFactory model_factory,
                         VersionObserverFactory observer_factory,
                         ReferenceSearchFactory reference_factory = nullptr);

  absl::StatusOr<std::shared_ptr<ServableVersion>> Load(const std::string& name, int64_t version,
                                                        const std::string& dir) override;

  // Ends the loads in progress with CANCELLED (their threads are abandoned) and refuses new ones.
  // For shutdown: a slow load must not hold SIGTERM for up to load_timeout.
  void Stop();
  // Abandoned loads whose threads are still running (their state outlives this loader).
  int abandoned() const;

 private:
  static constexpr int kLoaderNice = 10;  // added to the caller's nice for verification
  // What a load's thread uses, shared so that an abandoned thread never outlives it.
  struct Checks {
    Options options;
    ModelFactory model_factory;
    ReferenceSearchFactory reference_factory;
    // Every check and the warm-up: a servable without its batcher yet.
    absl::StatusOr<std::shared_ptr<ServableVersion>> Verify(const std::string& name,
                                                            int64_t version,
                                                            const std::string& dir) const;
  };
  struct Attempt;

  const Options options_;
  const std::shared_ptr<const Checks> checks_;
  const VersionObserverFactory observer_factory_;
  const std::shared_ptr<std::atomic<int>> abandoned_ = std::make_shared<std::atomic<int>>(0);
  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::shared_ptr<Attempt>> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace arginator::server
