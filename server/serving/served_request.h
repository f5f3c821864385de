#pragma once

#include <cstdint>

#include "absl/types/span.h"
#include "server/serving/request_method.h"

namespace arginator::server {

// One successful request, as the serving path reports it to its version's observer
// (VersionObserver::OnServed, server/registry/servable.h): its method, its latency, its
// predictions per label (indexed like the card's labels), its inputs' L2 norms and how many of
// them were out of distribution or uncertain.
struct ServedRequest {
  RequestMethod method = RequestMethod::kClassify;
  double seconds = 0;
  absl::Span<const int64_t> label_counts;
  absl::Span<const float> norms;
  int64_t out_of_distribution = 0;
  int64_t uncertain = 0;  // answered "uncertain" (common/decision_policy.h)
};

}  // namespace arginator::server
