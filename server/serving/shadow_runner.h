#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/servable.h"
#include "server/serving/postprocess.h"

namespace arginator::server {

// How a shadow version's calls compare with the default's on the same requests, since the pair
// of versions last changed.
struct ShadowSummary {
  std::string model;
  int64_t primary_version = 0;  // the version that answered
  int64_t shadow_version = 0;   // the version that ran them again
  int64_t rows = 0;             // embeddings compared
  int64_t agreements = 0;       // rows whose call (label or "uncertain") was the same
  int64_t dropped = 0;          // rows not shadowed: the queue was full, or the shadow failed
  // (default's call, shadow's call) -> rows, for the rows that disagree.
  std::map<std::pair<std::string, std::string>, int64_t> flips;
  // Mean over rows of |p_default - p_shadow|, the calibrated probability of the label the default
  // called (or its top label when uncertain); 1 per row where the shadow has no such label.
  double mean_probability_drift = 0;
  double max_probability_drift = 0;
};

// Runs requests the default version answered again on the model's `shadow` version, off the
// request's latency path: the serving path submits a copy of the rows and the answer it already
// sent, a worker thread hands them to the shadow version's batcher, and the comparison lands in
// per-model summaries and metrics (arginator_shadow_*). Nothing here can change an answer. At most
// max_pending_rows rows wait or run at once; beyond that, submissions are dropped and counted.
class ShadowRunner {
 public:
  ShadowRunner(ServerMetrics* metrics, int64_t max_pending_rows);
  ~ShadowRunner();  // waits for what is in flight

  void Submit(ServableHandle primary, ServableHandle shadow, RowsView inputs,
              const std::vector<float>& norms, const Verdicts& verdicts);
  // The model's current pair of versions (empty summary when it was never shadowed).
  ShadowSummary Summary(const std::string& model) const;
  // Waits until every submitted row is compared or dropped (tests, shutdown).
  void Flush();

 private:
  class Job;
  void RunWorker();
  void Done(Job* job, const absl::Status& status);

  ServerMetrics* const metrics_;
  const int64_t max_pending_rows_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::unique_ptr<Job>> queue_ ABSL_GUARDED_BY(mu_);
  int64_t pending_rows_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, ShadowSummary> summaries_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace arginator::server
