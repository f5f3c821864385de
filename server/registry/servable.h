#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/model_card.h"
#include "server/batching/dynamic_batcher.h"
#include "server/model/model.h"

namespace arginator::server {

// How a request arrived: its method and protocol (the `method` and `protocol` labels of
// arginator_requests_total and arginator_request_duration_seconds).
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

// Observes one version's traffic for metrics: its batcher, and each request it served. Made once
// per version when it loads, so the request path looks nothing up by label.
class VersionObserver : public BatcherObserver {
 public:
  // One successful request: its latency, its predictions per label (indexed like the card's
  // labels), its inputs' L2 norms and how many of them were out of distribution.
  virtual void OnServed(RequestMethod method, double seconds,
                        const std::vector<int64_t>& label_counts, const std::vector<float>& norms,
                        int64_t out_of_distribution) {}
};

// One loaded, validated model version, ready to serve: its card, its model and the batcher in
// front of it. Immutable after load. Requests hold a ServableHandle while in flight; the registry
// destroys a version only once no handle is left (VersionReclaimer).
struct ServableVersion {
  ModelCard card;
  std::string dir;
  std::shared_ptr<Model> model;
  std::shared_ptr<VersionObserver> observer;  // never null once loaded
  std::unique_ptr<DynamicBatcher> batcher;

  ~ServableVersion() {
    if (batcher) batcher->Stop();
  }
};

using ServableHandle = std::shared_ptr<const ServableVersion>;

}  // namespace arginator::server
