#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/batching/dynamic_batcher.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/model_registry.h"
#include "server/serving/postprocess.h"
#include "server/serving/request_method.h"
#include "server/serving/request_rules.h"
#include "server/serving/shadow_runner.h"

namespace arginator::server {

// The `model` label of requests for a model the repository does not have.
inline constexpr char kUnknownModelLabel[] = "_unknown";

class ServingPath;

// What the serving path hands a protocol adapter when its request is answered.
struct ServingAnswer {
  const ModelCard& card;
  RowsView probabilities;  // the forward's output, [rows, labels]
  const std::vector<float>& norms;
  const Verdicts& verdicts;
  // The version's reference table, naming verdicts.evidence_index; null when no evidence was asked.
  const ReferenceSet* references = nullptr;
};

// One inference request on the serving path. A protocol adapter (server/v1, server/v2,
// server/rest) subclasses it: it fills model() from its request, calls ServingPath::Serve, and
// implements the three steps below, which only decode its wire format and encode its answer; every
// rule lives in the path. A call is reused from request to request and its buffers keep their
// capacity; one request at a time per call.
class ServingCall : private InferenceTask {
 public:
  ~ServingCall() override = default;

  // The request's rows, decoded for the version the path selected (`card`), under the protocol's
  // own format rules (INVALID_ARGUMENT naming what was malformed). The rows contract (count,
  // width, finite values) is the path's, not the adapter's.
  virtual absl::Status DecodeRows(const ModelCard& card, RequestRows& rows) = 0;
  // Names row `i` in the path's messages: "embedding i" unless the protocol has an id for it.
  virtual std::string RowName(int64_t i) const;
  // The protocol's answer. A failure fails the request with that status.
  virtual absl::Status Encode(const ServingAnswer& answer) = 0;
  // The request's outcome, exactly once, possibly before Serve returns, on any thread. The call
  // is idle from here on: it may be served again or destroyed.
  virtual void Finish(const absl::Status& status) = 0;

  // Rows of the last request, so an owner can drop large buffers instead of keeping them.
  int64_t last_rows() const { return inputs.rows; }
  void ReleaseBuffers();

 protected:
  // The model the request names; the adapter fills it before Serve.
  ModelRef& model() { return model_; }
  // How many nearest references each row's answer carries (0: none, the default); the adapter
  // sets it before Serve, the path checks it (0..kMaxEvidence, a version with a reference index).
  int& evidence() { return evidence_; }

 private:
  friend class ServingPath;
  void Computed(const absl::Status& status) override;  // the batcher computed the rows (or failed)

  ModelRef model_;
  int evidence_ = 0;
  ServingPath* path_ = nullptr;
  RequestMethod method_ = RequestMethod::kClassify;
  absl::Time start_;
  ServableHandle servable_;  // held from selection until the answer is encoded
  ServableHandle shadow_;    // the version that shadows this request, or null
  RequestRows rows_;
  std::vector<float> scratch_;          // rows copied contiguous when the request's are not
  std::vector<float> norms_;            // one per row
  std::vector<float> probs_;            // the forward's output, [rows, labels]
  std::vector<double> density_scores_;  // one per row, from the batcher (a version with density)
  Verdicts verdicts_;
};

// The request path every protocol shares, owned by ArginatorServer and handed to each protocol
// adapter. In the order it runs (serving_path.cc reads top to bottom):
//   select the version (ParseModelRef's name, version and label rules; the registry's answer,
//   with its canary split and shadow sample for requests that name neither)
//   -> the adapter decodes its rows -> the rows contract (CheckRows: count, width, finite)
//   -> the version's batcher with the request's deadline (it may run the forward on this
//   thread; a request whose deadline passes first is dropped unrun)
//   -> post-processing (argmax, score, calibration, out of distribution, the call and its
//   confidence; the nearest references when asked) -> the adapter encodes its answer
//   -> metrics, recorded once per request (the version's series, or RecordFailure)
//   -> a shadowed request's rows and answer to the ShadowRunner -> the adapter's Finish.
// A v1 Classify, a v2 ModelInfer over gRPC and one over REST for the same version share its
// batcher and can share a forward. Thread-safe; the registry and metrics outlive it. Virtual so
// that adapters can be unit-tested against a fake path.
class ServingPath {
 public:
  struct Options {  // the config's server.max_embeddings_per_request
    int64_t max_embeddings_per_request = 0;
  };

  // `shadow` (may be null: shadowing off) runs shadowed requests again once answered.
  ServingPath(ModelRegistry* registry, ServerMetrics* metrics, Options options,
              ShadowRunner* shadow = nullptr)
      : registry_(registry), metrics_(metrics), options_(options), shadow_(shadow) {}
  virtual ~ServingPath() = default;

  // Serves `call` (its model() filled) that arrived by `method` and must be answered by
  // `deadline`. call->Finish is called exactly once, possibly before this returns.
  virtual void Serve(ServingCall* call, RequestMethod method, absl::Time deadline);

  // Records a request refused before it could be served (its bytes did not parse, the server is
  // draining), as the path records its own failures.
  virtual void Refuse(RequestMethod method, const std::string& model_name,
                      const absl::Status& status);

  // The selection rules alone, for requests that read a version without serving it (metadata,
  // readiness): NOT_FOUND / UNAVAILABLE from the registry, INVALID_ARGUMENT from ParseModelRef.
  absl::StatusOr<ServableHandle> Select(const ModelRef& model) const;

  ModelRegistry* registry() const { return registry_; }
  const Options& options() const { return options_; }

 protected:
  // The model `call` names, for paths that serve differently (a test's fake).
  static const ModelRef& RequestedModel(const ServingCall& call) { return call.model_; }

 private:
  friend class ServingCall;
  void AfterForward(ServingCall* call, const absl::Status& status);
  void Fail(ServingCall* call, const absl::Status& status);
  // Every failed request is recorded here, once: from Fail for those the path took, from Refuse
  // for those it never saw. Successes go to the version's own series (AfterForward).
  void RecordFailure(RequestMethod method, const std::string& model, int64_t version,
                     const absl::Status& status, double seconds);

  ModelRegistry* const registry_;
  ServerMetrics* const metrics_;
  const Options options_;
  ShadowRunner* const shadow_;
};

}  // namespace arginator::server
