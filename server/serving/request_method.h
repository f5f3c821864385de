#pragma once

namespace arginator::server {

// How a request arrived: its method and protocol (the `method` and `protocol` labels of
// arginator_requests_total and arginator_request_duration_seconds). The serving path records it;
// the registry and the batcher never see it.
enum class RequestMethod {
  kClassify,        // arginator.v1 Classify
  kClassifyStream,  // arginator.v1 ClassifyStream
  kModelInferGrpc,  // Open Inference Protocol v2 over gRPC
  kModelInferRest,  // Open Inference Protocol v2 over HTTP/REST
};
inline constexpr int kRequestMethods = 4;

inline const char* MethodName(RequestMethod m) {
  switch (m) {
    case RequestMethod::kClassify:
      return "Classify";
    case RequestMethod::kClassifyStream:
      return "ClassifyStream";
    default:
      return "ModelInfer";
  }
}

inline const char* ProtocolName(RequestMethod m) {
  switch (m) {
    case RequestMethod::kModelInferGrpc:
      return "v2-grpc";
    case RequestMethod::kModelInferRest:
      return "v2-rest";
    default:
      return "arginator.v1";
  }
}

}  // namespace arginator::server
