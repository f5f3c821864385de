#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
};

// The request path every protocol shares, in the order it runs (served_job.cc reads top to
// bottom):
//   Run:  select the version -> ParseRows (the protocol's input) -> enqueue on the version's
//         batcher, which runs the forward on this thread when the model is idle;
//   Done: post-process the probabilities -> Respond (the protocol's output) -> record metrics
//         -> Finish.
// So a v1 Classify, a v2 ModelInfer over gRPC and one over REST for the same version share its
// batcher and can share a forward. A job is reused from request to request and its buffers keep
// their capacity. One request at a time per job.
class ServedJob : public InferenceTask {
 public:
  // Rows of the last request, so an owner can drop large buffers instead of keeping them.
  int64_t last_rows() const { return inputs.rows; }
  void ReleaseBuffers();

 protected:
  // Starts a request for `name` with `selector` (or its parse error). Finish is called exactly
  // once, possibly before Run returns.
  void Run(const ClassifyEnv& env, RequestMethod method, const std::string& name,
           const absl::StatusOr<VersionSelector>& selector, absl::Time deadline);

  // The protocol's input: validates the request against the selected version's card and returns
  // its rows (viewing the request's own bytes where it can, else `scratch`), appending one L2
  // norm per row to `norms`. INVALID_ARGUMENT names what was wrong.
  virtual absl::StatusOr<RowsView> ParseRows(const ClassifyEnv& env, const ModelCard& card,
                                             std::vector<float>& scratch,
                                             std::vector<float>& norms) = 0;
  // The protocol's output, from the forward's probabilities [rows, labels], the norms and the
  // verdicts. A failure here fails the request with that status.
  virtual absl::Status Respond(const ModelCard& card, RowsView probabilities,
                               const std::vector<float>& norms, const Verdicts& verdicts) = 0;
  // The request's outcome. The job is idle from here on: it may be restarted or destroyed.
  virtual void Finish(const absl::Status& status) = 0;

 private:
  void Done(const absl::Status& status) override;  // the batcher's completion
  // Records a failed request and finishes it.
  void Fail(const absl::Status& status, const std::string& model, int64_t version);

  const ClassifyEnv* env_ = nullptr;
  RequestMethod method_ = RequestMethod::kClassify;
  absl::Time start_;
  ServableHandle servable_;     // held from selection until the response is filled
  std::vector<float> scratch_;  // rows copied contiguous when the request's are not
  std::vector<float> norms_;    // one per row
  std::vector<float> probs_;    // the forward's output, [rows, labels]
  Verdicts verdicts_;
};

}  // namespace arginator::server
