#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "server/batching/dynamic_batcher.h"
#include "server/registry/model_registry.h"

namespace arginator::server {

// Every Prometheus metric the server exports (prefix arginator_, base units, histograms for
// durations and sizes, labelled by model and version), plus one log line per lifecycle event.
// Uses prometheus-cpp's core only; HTTP exposition is MetricsHttpServer's job (DESIGN.md fact 2).
// Thread-safe: prometheus-cpp metrics are atomic and families lock on Add.
class ServerMetrics : public RegistryObserver {
 public:
  ServerMetrics();

  // Prometheus text exposition format 0.0.4.
  std::string Render() const;

  void RecordRequest(const std::string& model, int64_t version, const std::string& method,
                     const std::string& code, double seconds);
  void RecordEmbeddings(const std::string& model, int64_t version, int64_t count);
  // One response's predictions: count per label (indexed like `labels`), the inputs' L2 norms and
  // how many were out of distribution. One family lookup per label, not per embedding.
  void RecordPredictions(const std::string& model, int64_t version,
                         const std::vector<std::string>& labels,
                         const std::vector<int64_t>& label_counts, const std::vector<float>& norms,
                         int64_t out_of_distribution);

  // The observer for one version's batcher (batch sizes, queue wait and depth, forward time).
  std::shared_ptr<BatcherObserver> ForVersion(const std::string& model, int64_t version);

  // RegistryObserver: load/unload counts and durations, version states, and the log lines.
  void OnLoaded(const std::string& name, int64_t version, absl::Duration took) override;
  void OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                    absl::Duration took) override;
  void OnUnloaded(const std::string& name, int64_t version) override;
  void OnStates(const std::string& name, const std::map<int64_t, VersionState>& states) override;
  void OnServing(const std::string& name, int64_t version, int64_t previous) override;

 private:
  // The series that live only as long as a loaded version (its batcher and its state); removed
  // on unload so that many swaps do not accumulate series.
  struct VersionSeries {
    prometheus::Histogram* batch_size;
    prometheus::Histogram* queue_wait;
    prometheus::Histogram* inference;
    prometheus::Gauge* queue_depth;
  };
  std::mutex series_mu_;
  std::map<std::pair<std::string, int64_t>, VersionSeries> version_series_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Counter>& embeddings_;
  prometheus::Family<prometheus::Histogram>& queue_wait_seconds_;
  prometheus::Family<prometheus::Histogram>& inference_seconds_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& version_state_;
  prometheus::Family<prometheus::Gauge>& versions_ready_;
  prometheus::Family<prometheus::Counter>& loads_;
  prometheus::Family<prometheus::Histogram>& load_seconds_;
  prometheus::Family<prometheus::Counter>& unloads_;
  prometheus::Family<prometheus::Counter>& predictions_;
  prometheus::Family<prometheus::Histogram>& input_norm_;
  prometheus::Family<prometheus::Counter>& out_of_distribution_;
};

}  // namespace arginator::server
