#pragma once

#include "arginator/v1/classifier.grpc.pb.h"
#include "server/serving/serving_path.h"
#include "server/v1/classify_call.h"
#include "server/v1/classify_stream.h"

namespace arginator::server {

// arginator.v1's Classifier service on gRPC's callback API. Every method is registered raw, so
// each parses its own request and a message that does not parse is INVALID_ARGUMENT naming its
// type (gRPC's typed handlers answer UNIMPLEMENTED, or for a stream end it like a half-close),
// the same on every RPC, with no method indices or grpc::internal types. Classify and each
// ClassifyStream message run on the serving path (server/serving/); a Classify call comes from a
// pool (ClassifyCallPool), so a steady state allocates no messages or buffers of ours. No thread
// blocks per request.
class ClassifierService final : public v1::Classifier::WithRawCallbackMethod_Classify<
                                    v1::Classifier::WithRawCallbackMethod_ClassifyStream<
                                        v1::Classifier::WithRawCallbackMethod_ListModels<
                                            v1::Classifier::WithRawCallbackMethod_GetModelMetadata<
                                                v1::Classifier::Service>>>> {
 public:
  struct Options {                 // the config's server.stream_max_in_flight
    int stream_max_in_flight = 0;  // requests a stream may have queued before reads pause
  };

  // `path` outlives the service.
  ClassifierService(ServingPath* path, Options options) : path_(path), options_(options) {}

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ClassifyStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelMetadata(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;

  // Shutdown: every open ClassifyStream (and any opened later) answers what it has read and ends
  // with UNAVAILABLE (ClassifyStreamReactor::Drain). Call before grpc::Server::Shutdown.
  void DrainStreams() { streams_.DrainAll(); }

 private:
  void FillModels(v1::ListModelsResponse* response) const;
  absl::Status FillModelMetadata(const v1::GetModelMetadataRequest& request,
                                 v1::GetModelMetadataResponse* response) const;

  ServingPath* const path_;
  const Options options_;
  ClassifyCallPool calls_;  // outlives the grpc::Server, which finishes every call first
  ClassifyStreams streams_;
};

}  // namespace arginator::server
