#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "arginator/v1/classifier.pb.h"
#include "server/service/served_job.h"

namespace arginator::server {

// One arginator.v1 Classify request on the shared request path (served_job.h): its input is the
// request's embeddings (repeated or packed), its output a ClassifyResponse. Subclasses say how a
// finished request leaves (the unary reactor, a stream's slot).
class ClassifyJob : public ServedJob {
 public:
  // Runs `request` into `response`; both must stay alive until Finish, which is called exactly
  // once, possibly before Start returns.
  void Start(const ClassifyEnv& env, RequestMethod method, const v1::ClassifyRequest& request,
             absl::Time deadline, v1::ClassifyResponse* response);

 private:
  absl::StatusOr<RowsView> ParseRows(const ClassifyEnv& env, const ModelCard& card,
                                     std::vector<float>& scratch,
                                     std::vector<float>& norms) override;
  absl::Status Respond(const ModelCard& card, RowsView probabilities,
                       const std::vector<float>& norms, const Verdicts& verdicts) override;

  const v1::ClassifyRequest* request_ = nullptr;
  v1::ClassifyResponse* response_ = nullptr;
};

}  // namespace arginator::server
