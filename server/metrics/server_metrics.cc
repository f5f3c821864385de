#include "server/metrics/server_metrics.h"

#include <prometheus/text_serializer.h>

#include <array>
#include <cstdio>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/serving/served_request.h"

namespace arginator::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

const Histogram::BucketBoundaries kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                     1,      2.5,     5,      10};
const Histogram::BucketBoundaries kBatchBuckets = {1,  2,   4,   8,   16,   32,
                                                   64, 128, 256, 512, 1024, 4096};
const Histogram::BucketBoundaries kLoadBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// ProtT5 mean-pooled embeddings have L2 norms in a narrow band; resolve it finely.
const Histogram::BucketBoundaries kNormBuckets = {1,   2,    3, 4,   5, 5.5, 5.75, 6, 6.25,
                                                  6.5, 6.75, 7, 7.5, 8, 10,  15,   25};

// One version's series, resolved when it loads: the request path then touches only atomics and
// per-series histogram locks, never a family's lock or a label map (measured in
// docs/benchmarks.md). Counters outlive the version (they are totals); the batcher's series are
// removed on unload by ServerMetrics.
class VersionSeriesMetrics : public VersionObserver {
 public:
  struct Served {  // per method
    prometheus::Counter* ok = nullptr;
    Histogram* seconds = nullptr;
  };
  using ServedByMethod = std::array<Served, kRequestMethods>;  // indexed by RequestMethod
  VersionSeriesMetrics(Histogram& batch, Histogram& wait, Histogram& infer,
                       prometheus::Gauge& depth, const ServedByMethod& served,
                       prometheus::Counter& embeddings, std::vector<prometheus::Counter*> labels,
                       Histogram& norms, prometheus::Counter& out_of_distribution,
                       prometheus::Counter& uncertain)
      : batch_(batch),
        wait_(wait),
        infer_(infer),
        depth_(depth),
        served_(served),
        embeddings_(embeddings),
        labels_(std::move(labels)),
        norms_(norms),
        out_of_distribution_(out_of_distribution),
        uncertain_(uncertain) {}

  void OnBatch(int64_t rows, absl::Duration forward) override {
    batch_.Observe(static_cast<double>(rows));
    infer_.Observe(absl::ToDoubleSeconds(forward));
  }
  void OnQueueWait(absl::Duration wait) override { wait_.Observe(absl::ToDoubleSeconds(wait)); }
  void OnQueueDepth(int64_t rows) override { depth_.Set(static_cast<double>(rows)); }

  void OnServed(const ServedRequest& request) override {
    const Served& served = served_[static_cast<size_t>(request.method)];
    served.ok->Increment();
    served.seconds->Observe(request.seconds);
    embeddings_.Increment(static_cast<double>(request.norms.size()));
    for (size_t k = 0; k < labels_.size() && k < request.label_counts.size(); ++k) {
      const int64_t count = request.label_counts[k];
      if (count > 0) labels_[k]->Increment(static_cast<double>(count));
    }
    for (float n : request.norms) norms_.Observe(n);
    if (request.out_of_distribution > 0) {
      out_of_distribution_.Increment(static_cast<double>(request.out_of_distribution));
    }
    if (request.uncertain > 0) uncertain_.Increment(static_cast<double>(request.uncertain));
  }

 private:
  Histogram& batch_;
  Histogram& wait_;
  Histogram& infer_;
  prometheus::Gauge& depth_;
  const ServedByMethod served_;
  prometheus::Counter& embeddings_;
  const std::vector<prometheus::Counter*> labels_;
  Histogram& norms_;
  prometheus::Counter& out_of_distribution_;
  prometheus::Counter& uncertain_;
};

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter()
                    .Name("arginator_requests_total")
                    .Help("gRPC requests by model, version, method and status code")
                    .Register(*registry_)),
      request_seconds_(BuildHistogram()
                           .Name("arginator_request_duration_seconds")
                           .Help("Time from receiving a request to its response")
                           .Register(*registry_)),
      embeddings_(BuildCounter()
                      .Name("arginator_embeddings_total")
                      .Help("Embeddings classified")
                      .Register(*registry_)),
      queue_wait_seconds_(BuildHistogram()
                              .Name("arginator_queue_wait_seconds")
                              .Help("Time a request waited in the batcher queue")
                              .Register(*registry_)),
      inference_seconds_(BuildHistogram()
                             .Name("arginator_inference_duration_seconds")
                             .Help("Time of one batched forward pass")
                             .Register(*registry_)),
      batch_size_(BuildHistogram()
                      .Name("arginator_batch_size")
                      .Help("Embeddings per forward pass")
                      .Register(*registry_)),
      queue_depth_(BuildGauge()
                       .Name("arginator_queue_depth")
                       .Help("Embeddings waiting in the batcher queue")
                       .Register(*registry_)),
      version_state_(BuildGauge()
                         .Name("arginator_model_version_state")
                         .Help("1 for the state each model version is in")
                         .Register(*registry_)),
      versions_ready_(BuildGauge()
                          .Name("arginator_model_versions_ready")
                          .Help("Ready versions per model")
                          .Register(*registry_)),
      loads_(BuildCounter()
                 .Name("arginator_model_loads_total")
                 .Help("Model version loads by result (success, failure)")
                 .Register(*registry_)),
      load_seconds_(BuildHistogram()
                        .Name("arginator_model_load_duration_seconds")
                        .Help("Time to load, verify and warm up a model version")
                        .Register(*registry_)),
      unloads_(BuildCounter()
                   .Name("arginator_model_unloads_total")
                   .Help("Model versions unloaded")
                   .Register(*registry_)),
      predictions_(BuildCounter()
                       .Name("arginator_predictions_total")
                       .Help("Predictions by predicted label")
                       .Register(*registry_)),
      input_norm_(BuildHistogram()
                      .Name("arginator_input_l2_norm")
                      .Help("L2 norm of classified embeddings (drift signal)")
                      .Register(*registry_)),
      out_of_distribution_(BuildCounter()
                               .Name("arginator_out_of_distribution_total")
                               .Help("Embeddings outside the model's training distribution "
                                     "(L2 norm out of range, or density score past the card's "
                                     "cut-off)")
                               .Register(*registry_)),
      uncertain_(BuildCounter()
                     .Name("arginator_uncertain_total")
                     .Help("Embeddings answered 'uncertain': below their label's threshold or "
                           "out of distribution")
                     .Register(*registry_)),
      shadow_rows_(BuildCounter()
                       .Name("arginator_shadow_rows_total")
                       .Help("Embeddings the default version answered and the model's shadow "
                             "version ran again, by model, shadow version and the version that "
                             "answered")
                       .Register(*registry_)),
      shadow_agreements_(BuildCounter()
                             .Name("arginator_shadow_agreements_total")
                             .Help("Shadowed embeddings whose call (label or uncertain) was the "
                                   "same on both versions")
                             .Register(*registry_)),
      shadow_flips_(BuildCounter()
                        .Name("arginator_shadow_flips_total")
                        .Help("Shadowed embeddings called differently, by the answering "
                              "version's call (from) and the shadow's (to)")
                        .Register(*registry_)),
      shadow_drift_(BuildHistogram()
                        .Name("arginator_shadow_probability_drift")
                        .Help("|p_default - p_shadow| of the calibrated probability of the label "
                              "the answering version called, per shadowed embedding")
                        .Register(*registry_)),
      shadow_dropped_(BuildCounter()
                          .Name("arginator_shadow_dropped_total")
                          .Help("Embeddings not shadowed: the shadow queue was full or the "
                                "shadow version failed")
                          .Register(*registry_)),
      admin_actions_(BuildCounter()
                         .Name("arginator_admin_actions_total")
                         .Help("Admin actions and release changes by action and result code "
                               "(each also one line of the audit log)")
                         .Register(*registry_)) {}

void ServerMetrics::RecordShadow(const std::string& model, int64_t shadow_version,
                                 int64_t primary_version, int64_t rows, int64_t agreements,
                                 const std::vector<std::pair<std::string, std::string>>& flips,
                                 const std::vector<double>& drifts) {
  const std::string v = absl::StrCat(shadow_version);
  shadow_rows_
      .Add({{"model", model}, {"version", v}, {"primary_version", absl::StrCat(primary_version)}})
      .Increment(static_cast<double>(rows));
  shadow_agreements_.Add({{"model", model}, {"version", v}})
      .Increment(static_cast<double>(agreements));
  for (const auto& [from, to] : flips) {
    shadow_flips_.Add({{"model", model}, {"version", v}, {"from", from}, {"to", to}}).Increment();
  }
  static const prometheus::Histogram::BucketBoundaries kDrift = {0.001, 0.01, 0.05, 0.1,
                                                                 0.2,   0.5,  1};
  prometheus::Histogram& drift = shadow_drift_.Add({{"model", model}, {"version", v}}, kDrift);
  for (double d : drifts) drift.Observe(d);
}

void ServerMetrics::RecordShadowDropped(const std::string& model, int64_t shadow_version,
                                        int64_t rows) {
  shadow_dropped_.Add({{"model", model}, {"version", absl::StrCat(shadow_version)}})
      .Increment(static_cast<double>(rows));
}

void ServerMetrics::RecordAdminAction(const std::string& action, const std::string& code) {
  admin_actions_.Add({{"action", action}, {"code", code}}).Increment();
}

std::string ServerMetrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

void ServerMetrics::RecordRequest(const std::string& model, int64_t version, RequestMethod method,
                                  const std::string& code, double seconds) {
  std::string v = version > 0 ? absl::StrCat(version) : "";
  const std::string name = MethodName(method), protocol = ProtocolName(method);
  requests_
      .Add({{"model", model},
            {"version", v},
            {"method", name},
            {"protocol", protocol},
            {"code", code}})
      .Increment();
  request_seconds_
      .Add({{"model", model}, {"method", name}, {"protocol", protocol}}, kLatencyBuckets)
      .Observe(seconds);
}

std::shared_ptr<VersionObserver> ServerMetrics::ForVersion(const std::string& model,
                                                           int64_t version,
                                                           const std::vector<std::string>& labels) {
  const std::string v = absl::StrCat(version);
  prometheus::Labels series_labels = {{"model", model}, {"version", v}};
  VersionSeries series{&batch_size_.Add(series_labels, kBatchBuckets),
                       &queue_wait_seconds_.Add(series_labels, kLatencyBuckets),
                       &inference_seconds_.Add(series_labels, kLatencyBuckets),
                       &queue_depth_.Add(series_labels)};
  {
    MutexLock lock(&series_mu_);
    version_series_[{model, version}] = series;
  }
  VersionSeriesMetrics::ServedByMethod served;
  for (int i = 0; i < kRequestMethods; ++i) {
    const auto method = static_cast<RequestMethod>(i);
    const std::string name = MethodName(method), protocol = ProtocolName(method);
    served[static_cast<size_t>(i)] = VersionSeriesMetrics::Served{
        &requests_.Add({{"model", model},
                        {"version", v},
                        {"method", name},
                        {"protocol", protocol},
                        {"code", "OK"}}),
        &request_seconds_.Add({{"model", model}, {"method", name}, {"protocol", protocol}},
                              kLatencyBuckets)};
  }
  std::vector<prometheus::Counter*> label_counters;
  for (const std::string& label : labels) {
    label_counters.push_back(
        &predictions_.Add({{"model", model}, {"version", v}, {"label", label}}));
  }
  return std::make_shared<VersionSeriesMetrics>(
      *series.batch_size, *series.queue_wait, *series.inference, *series.queue_depth, served,
      embeddings_.Add(series_labels), std::move(label_counters),
      input_norm_.Add({{"model", model}}, kNormBuckets), out_of_distribution_.Add(series_labels),
      uncertain_.Add(series_labels));
}

void ServerMetrics::OnLoaded(const std::string& name, int64_t version, absl::Duration took) {
  loads_.Add({{"model", name}, {"result", "success"}}).Increment();
  load_seconds_.Add({{"model", name}}, kLoadBuckets).Observe(absl::ToDoubleSeconds(took));
}

void ServerMetrics::OnLoadFailed(const std::string& name, int64_t version, const absl::Status& why,
                                 absl::Duration took) {
  loads_.Add({{"model", name}, {"result", "failure"}}).Increment();
}

void ServerMetrics::OnUnloaded(const std::string& name, int64_t version) {
  unloads_.Add({{"model", name}}).Increment();
  // The registry reports an unload after the version (and its batcher) is destroyed, so nothing
  // observes these series any more.
  {
    MutexLock lock(&series_mu_);
    auto it = version_series_.find({name, version});
    if (it != version_series_.end()) {
      batch_size_.Remove(it->second.batch_size);
      queue_wait_seconds_.Remove(it->second.queue_wait);
      inference_seconds_.Remove(it->second.inference);
      queue_depth_.Remove(it->second.queue_depth);
      version_series_.erase(it);
    }
  }
}

void ServerMetrics::OnStates(const std::string& name,
                             const std::map<int64_t, VersionState>& states) {
  int ready = 0;
  for (const auto& [version, state] : states) {
    ready += state == VersionState::kReady;
    for (VersionState s : {VersionState::kLoading, VersionState::kReady, VersionState::kUnloading,
                           VersionState::kFailed, VersionState::kUnloaded}) {
      version_state_
          .Add(
              {{"model", name}, {"version", absl::StrCat(version)}, {"state", VersionStateName(s)}})
          .Set(s == state ? 1 : 0);
    }
  }
  versions_ready_.Add({{"model", name}}).Set(ready);
}

}  // namespace arginator::server
