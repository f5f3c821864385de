#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "arginator/v1/classifier.pb.h"
#include "server/batching/dynamic_batcher.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/model_registry.h"
#include "server/service/postprocess.h"

namespace arginator::server {

// The `model` label of requests for a model the repository does not have.
inline constexpr char kUnknownModelLabel[] = "_unknown";

// What a job needs of the server; outlives every job.
struct ClassifyEnv {
  ModelRegistry* registry;
  ServerMetrics* metrics;
  int64_t max_embeddings_per_request;
  // Called after a version was taken out of service (a forward broke its output contract), so
  // health can follow at once. May be empty.
  std::function<void()> on_version_failed;
};

// One Classify request on the request path, in the order it runs (classify_job.cc reads top to
// bottom):
//   Start: parse the model spec -> select the version -> parse the embeddings -> enqueue on the
//          version's batcher, which runs the forward on this thread when the model is idle;
//   Done:  post-process the probabilities -> fill the response -> record metrics -> Finish.
// Subclasses say how a finished request leaves (the unary reactor, a stream's slot). A job is
// reused from request to request and its buffers keep their capacity, so a steady state of
// similar requests allocates nothing of its own. One request at a time per job.
class ClassifyJob : public InferenceTask {
 public:
  // Runs `request` into `response`; both must stay alive until Finish, which is called exactly
  // once, possibly before Start returns.
  void Start(const ClassifyEnv& env, RequestMethod method, const v1::ClassifyRequest& request,
             absl::Time deadline, v1::ClassifyResponse* response);

  // Rows of the last request, so an owner can drop large buffers instead of keeping them.
  int64_t last_rows() const { return inputs.rows; }
  void ReleaseBuffers();

 protected:
  // The request's outcome. The job is idle from here on: it may be restarted or destroyed.
  virtual void Finish(const absl::Status& status) = 0;

 private:
  void Done(const absl::Status& status) override;  // the batcher's completion
  void FillResponse(bool with_probabilities);
  // Records a failed request and finishes it.
  void Fail(const absl::Status& status, const std::string& model, int64_t version);

  const ClassifyEnv* env_ = nullptr;
  RequestMethod method_ = RequestMethod::kClassify;
  const v1::ClassifyRequest* request_ = nullptr;
  v1::ClassifyResponse* response_ = nullptr;
  absl::Time start_;
  ServableHandle servable_;     // held from selection until the response is filled
  std::vector<float> scratch_;  // rows copied contiguous when the request's are not
  std::vector<float> norms_;    // one per row
  std::vector<float> probs_;    // the forward's output, [rows, labels]
  Verdicts verdicts_;
};

}  // namespace arginator::server
