#pragma once

#include "inference/grpc_predict_v2.grpc.pb.h"
#include "server/serving/serving_path.h"
#include "server/serving/serving_status.h"

namespace arginator::server {

// The Open Inference Protocol (KServe v2) over gRPC, `inference.GRPCInferenceService`, on the same
// port as arginator.v1: a ModelInfer is decoded into v2 tensors (infer_tensors.h) and runs on the
// serving path (server/serving/), so it can share a forward with v1 and REST requests for the
// same version. Readiness comes from the same ServingStatus as grpc.health.v1. Every method is
// registered raw (server/grpc/unary_call.h): a request that does not parse is INVALID_ARGUMENT.
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
  InferenceService(ServingPath* path, const ServingStatus* status) : path_(path), status_(status) {}

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

  ServingPath* const path_;
  const ServingStatus* const status_;
};

}  // namespace arginator::server
