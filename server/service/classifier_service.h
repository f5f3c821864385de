#pragma once

#include <memory>

#include "arginator/v1/classifier.grpc.pb.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/model_registry.h"
#include "server/service/classify_call_pool.h"
#include "server/service/classify_job.h"
#include "server/service/classify_stream_reactor.h"

namespace arginator::server {

// The Classifier gRPC service on the callback API. A Classify call arrives with its messages and
// its ClassifyJob from a pool (ClassifyCallPool, gRPC's message allocator), so a steady state
// allocates no messages or buffers of ours; the handler starts the job (classify_job.h: parse,
// select, enqueue or execute) and returns; the job's completion fills the response and finishes
// the call. No thread blocks per request. A request that does not parse gets an error that says
// so: both Classify and ClassifyStream are registered by the constructor with
// ReceivedClassifyRequest as their request type, which reports the parse instead of failing it.
class ClassifierService final
    : public v1::Classifier::WithRawCallbackMethod_ListModels<
          v1::Classifier::WithRawCallbackMethod_GetModelMetadata<v1::Classifier::Service>> {
 public:
  struct Options {  // the config's server.max_embeddings_per_request, server.stream_max_in_flight
    int64_t max_embeddings_per_request = 0;
    int stream_max_in_flight = 0;  // requests a stream may have queued before reads pause
  };

  ClassifierService(ModelRegistry* registry, ServerMetrics* metrics, Options options);

  // Their handlers are registered by the constructor (see ReceivedClassifyRequest).
  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context);
  grpc::ServerBidiReactor<ReceivedClassifyRequest, v1::ClassifyStreamResponse>* ClassifyStream(
      grpc::CallbackServerContext* context);
  // Registered raw (unary_call.h): a request that does not parse is INVALID_ARGUMENT.
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelMetadata(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;

  // Shutdown: every open ClassifyStream (and any opened later) answers what it has read and ends
  // with UNAVAILABLE (ClassifyStreamReactor::Drain). Call before grpc::Server::Shutdown.
  void DrainStreams() { streams_.DrainAll(); }

  const Options& options() const { return options_; }
  const ClassifyEnv& env() const { return env_; }

 private:
  void FillModels(v1::ListModelsResponse* response) const;
  absl::Status FillModelMetadata(const v1::GetModelMetadataRequest& request,
                                 v1::GetModelMetadataResponse* response) const;

  ModelRegistry* const registry_;
  const Options options_;
  const ClassifyEnv env_;
  ClassifyCallPool calls_;  // outlives the grpc::Server, which returns every call to it
  ClassifyStreams streams_;
};

}  // namespace arginator::server
