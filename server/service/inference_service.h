#pragma once

#include "inference/grpc_predict_v2.grpc.pb.h"
#include "server/service/served_job.h"
#include "server/service/serving_status.h"

namespace arginator::server {

// The Open Inference Protocol (KServe v2) over gRPC, `inference.GRPCInferenceService`, on the same
// port, registry, batchers and metrics as arginator.v1: a ModelInfer runs the shared request
// path (served_job.h) with v2 tensors (infer_tensors.h), so it can share a forward with v1
// requests for the same version. Readiness comes from the same ServingStatus as grpc.health.v1.
// Answers come back the way the request came: raw_output_contents for a request with
// raw_input_contents, typed contents otherwise. Callback API; no thread blocks per request.
class InferenceService final
    : public inference::GRPCInferenceService::WithRawCallbackMethod_ServerLive<
          inference::GRPCInferenceService::WithRawCallbackMethod_ServerReady<
              inference::GRPCInferenceService::WithRawCallbackMethod_ModelReady<
                  inference::GRPCInferenceService::WithRawCallbackMethod_ServerMetadata<
                      inference::GRPCInferenceService::WithRawCallbackMethod_ModelMetadata<
                          inference::GRPCInferenceService::WithRawCallbackMethod_ModelInfer<
                              inference::GRPCInferenceService::Service>>>>>> {
 public:
  // Everything passed outlives the service.
  InferenceService(const ClassifyEnv* env, const ServingStatus* status)
      : env_(env), status_(status) {}

  // Registered raw (unary_call.h): a request that does not parse is INVALID_ARGUMENT.
  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

 private:
  absl::Status ModelReadyAnswer(const inference::ModelReadyRequest& request,
                                inference::ModelReadyResponse* response) const;
  absl::Status ModelMetadataAnswer(const inference::ModelMetadataRequest& request,
                                   inference::ModelMetadataResponse* response) const;

  const ClassifyEnv* const env_;
  const ServingStatus* const status_;
};

}  // namespace arginator::server
