#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/model_card.h"
#include "server/batching/dynamic_batcher.h"
#include "server/model/model.h"
#include "server/model/reference_set.h"

namespace arginator::server {

struct ServedRequest;  // server/serving/served_request.h

// Observes one version's traffic for metrics: its batcher, and each request it served. Made once
// per version when it loads, so the request path looks nothing up by label.
class VersionObserver : public BatcherObserver {
 public:
  // One successful request (the serving path's report; the registry never looks inside it).
  virtual void OnServed(const ServedRequest& served) {}
};

// One loaded, validated model version, ready to serve: its card, its model and the batcher in
// front of it. Immutable after load. Requests hold a ServableHandle while in flight; the registry
// destroys a version only once no handle is left (VersionReclaimer).
struct ServableVersion {
  ModelCard card;
  std::string dir;
  std::shared_ptr<Model> model;
  // The card's out-of-distribution density detector (decision.out_of_distribution); null when the
  // card has none (a version from an older trainer).
  std::shared_ptr<const DensityModel> density;
  // The card's reference index (evidence), or null: the card has none, or the server was built
  // without a reference search.
  std::shared_ptr<const ReferenceSet> references;
  std::shared_ptr<VersionObserver> observer;  // never null once loaded
  std::unique_ptr<DynamicBatcher> batcher;

  ~ServableVersion() {
    if (batcher) batcher->Stop();
  }
};

using ServableHandle = std::shared_ptr<const ServableVersion>;

}  // namespace arginator::server
