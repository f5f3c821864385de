#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "server/batching/dynamic_batcher.h"
#include "server/registry/model_registry.h"
#include "server/serving/request_method.h"

namespace arginator::server {

// Every Prometheus metric the server exports (prefix arginator_, base units, histograms for
// durations and sizes, labelled by model and version).
// Uses prometheus-cpp's core only; HTTP exposition is MetricsHttpServer's job (its header says
// why prometheus-cpp's own exposer is not used).
// Thread-safe: prometheus-cpp metrics are atomic and families lock on Add.
class ServerMetrics : public RegistryObserver {
 public:
  ServerMetrics();

  // Prometheus text exposition format 0.0.4.
  std::string Render() const;

  // A request that failed: looks its series up by label. Successful requests are recorded by
  // their version's observer (ForVersion); the serving path calls one or the other, once.
  void RecordRequest(const std::string& model, int64_t version, RequestMethod method,
                     const std::string& code, double seconds);

  // The observer of one version, with every series its traffic touches resolved now: batch
  // sizes, queue wait and depth, forward time, and per served request its count, latency,
  // embeddings, predictions per label (indexed like `labels`), input norms and out-of-distribution
  // count.
  std::shared_ptr<VersionObserver> ForVersion(const std::string& model, int64_t version,
                                              const std::vector<std::string>& labels = {});

  // The shadow runner's comparisons (server/serving/shadow_runner.h): rows compared, agreeing,
  // each flip (from the answering version's call to the shadow's), and each row's drift.
  void RecordShadow(const std::string& model, int64_t shadow_version, int64_t primary_version,
                    int64_t rows, int64_t agreements,
                    const std::vector<std::pair<std::string, std::string>>& flips,
                    const std::vector<double>& drifts);
  void RecordShadowDropped(const std::string& model, int64_t shadow_version, int64_t rows);
  // One admin action or release change (the audit log's counter).
  void RecordAdminAction(const std::string& action, const std::string& code);

  // RegistryObserver: load/unload counts and durations, version states, and the log lines.
  void OnLoaded(const std::string& name, int64_t version, absl::Duration took) override;
  void OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                    absl::Duration took) override;
  void OnUnloaded(const std::string& name, int64_t version) override;
  void OnStates(const std::string& name, const std::map<int64_t, VersionState>& states) override;

 private:
  // The series that live only as long as a loaded version (its batcher and its state); removed
  // on unload so that many swaps do not accumulate series.
  struct VersionSeries {
    prometheus::Histogram* batch_size;
    prometheus::Histogram* queue_wait;
    prometheus::Histogram* inference;
    prometheus::Gauge* queue_depth;
  };
  Mutex series_mu_;
  std::map<std::pair<std::string, int64_t>, VersionSeries> version_series_
      ABSL_GUARDED_BY(series_mu_);

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
  prometheus::Family<prometheus::Counter>& uncertain_;
  prometheus::Family<prometheus::Counter>& shadow_rows_;
  prometheus::Family<prometheus::Counter>& shadow_agreements_;
  prometheus::Family<prometheus::Counter>& shadow_flips_;
  prometheus::Family<prometheus::Histogram>& shadow_drift_;
  prometheus::Family<prometheus::Counter>& shadow_dropped_;
  prometheus::Family<prometheus::Counter>& admin_actions_;
};

}  // namespace arginator::server
