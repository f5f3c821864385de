#pragma once

#include <functional>

#include "arginator/v1/classifier.grpc.pb.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/model_registry.h"

namespace arginator::server {

// The Classifier gRPC service on the callback API: a handler validates, picks the version,
// enqueues the embeddings on that version's batcher and returns; the batcher's completion fills the
// response and finishes the call. No thread blocks per request.
class ClassifierService final : public v1::Classifier::CallbackService {
 public:
  struct Options {
    int64_t max_embeddings_per_request = 4096;
    int stream_max_in_flight = 8;  // requests a stream may have queued before reads pause
  };

  ClassifierService(ModelRegistry* registry, ServerMetrics* metrics, Options options);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override;
  grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyStreamResponse>* ClassifyStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModelMetadata(grpc::CallbackServerContext* context,
                                             const v1::GetModelMetadataRequest* request,
                                             v1::GetModelMetadataResponse* response) override;

  // Called with the outcome of one classification: status, model name and version (0 if none).
  using Completion = std::function<void(const absl::Status&, const std::string&, int64_t)>;

  // Validates and enqueues `request`; fills `response` (which must outlive the call) and then
  // calls `done` exactly once, on the batcher thread or, for early errors, on this thread.
  void Submit(const v1::ClassifyRequest& request, absl::Time deadline,
              v1::ClassifyResponse* response, Completion done);

  const Options& options() const { return options_; }
  ServerMetrics* metrics() const { return metrics_; }

 private:
  ModelRegistry* const registry_;
  ServerMetrics* const metrics_;
  const Options options_;
};

}  // namespace arginator::server
