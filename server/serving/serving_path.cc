#include "server/serving/serving_path.h"

#include "absl/strings/str_cat.h"
#include "common/status_code_names.h"
#include "server/serving/served_request.h"

namespace arginator::server {

std::string ServingCall::RowName(int64_t i) const { return absl::StrCat("embedding ", i); }

void ServingCall::ReleaseBuffers() {
  rows_ = RequestRows();
  std::vector<float>().swap(scratch_);
  std::vector<float>().swap(norms_);
  std::vector<float>().swap(probs_);
  std::vector<double>().swap(density_scores_);
  verdicts_ = Verdicts();
}

void ServingCall::Computed(const absl::Status& status) { path_->AfterForward(this, status); }

absl::StatusOr<ServableHandle> ServingPath::Select(const ModelRef& model) const {
  absl::StatusOr<VersionSelector> selector = ParseModelRef(model);
  if (!selector.ok()) return selector.status();
  return registry_->Get(model.name, *selector);
}

void ServingPath::Serve(ServingCall* call, RequestMethod method, absl::Time deadline) {
  call->path_ = this;
  call->method_ = method;
  call->start_ = absl::Now();
  absl::StatusOr<VersionSelector> selector = ParseModelRef(call->model_);
  if (!selector.ok()) return Fail(call, selector.status());
  absl::StatusOr<Route> route = registry_->RouteRequest(call->model_.name, *selector);
  if (!route.ok()) return Fail(call, route.status());
  call->servable_ = std::move(route->primary);
  call->shadow_ = shadow_ != nullptr ? std::move(route->shadow) : nullptr;
  const ModelCard& card = call->servable_->card;
  if (call->evidence_ < 0 || call->evidence_ > kMaxEvidence) {
    return Fail(call, absl::InvalidArgumentError(
                          absl::StrCat("evidence ", call->evidence_, " is not in [0, ",
                                       kMaxEvidence, "] (nearest references per embedding)")));
  }
  if (call->evidence_ > 0 && call->servable_->references == nullptr) {
    return Fail(call, absl::FailedPreconditionError(absl::StrCat(
                          card.name, " v", card.version,
                          " has no reference index to take evidence from (trained before "
                          "arginator-train wrote one)")));
  }

  call->rows_.Clear();
  if (absl::Status s = call->DecodeRows(card, call->rows_); !s.ok()) return Fail(call, s);
  absl::StatusOr<RowsView> rows = CheckRows(
      call->rows_, card.input_dim, options_.max_embeddings_per_request,
      [call](int64_t i) { return call->RowName(i); }, call->scratch_, call->norms_);
  if (!rows.ok()) return Fail(call, rows.status());

  const auto cols = static_cast<int64_t>(card.labels.size());
  call->probs_.resize(static_cast<size_t>(rows->rows * cols));
  call->inputs = *rows;
  call->outputs = MutableRowsView(call->probs_.data(), rows->rows, cols);
  // The version's density scores come with the forward, computed over the whole batch.
  call->row_scores = nullptr;
  if (call->servable_->density != nullptr) {
    call->density_scores_.resize(static_cast<size_t>(rows->rows));
    call->row_scores = call->density_scores_.data();
  }
  call->deadline = deadline;  // the batcher drops the call unrun once it has passed
  // The handle keeps the batcher alive while this thread may be running forwards in it, even
  // after the call has been finished and released its own handle.
  const ServableHandle keep = call->servable_;
  if (absl::Status s = keep->batcher->Enqueue(call); !s.ok()) Fail(call, s);
}

void ServingPath::AfterForward(ServingCall* call, const absl::Status& status) {
  const ServableVersion& servable = *call->servable_;
  if (!status.ok()) {
    // A broken output contract is the version's fault, not this request's: out of service (the
    // registry tells its observers, health among them).
    if (IsOutputContractError(status)) registry_->MarkFailed(&servable, status);
    return Fail(call, status);
  }
  if (absl::Status s = Postprocess(call->outputs, call->inputs, call->norms_, servable.card,
                                   servable.density.get(), call->verdicts_, call->row_scores);
      !s.ok()) {
    return Fail(call, s);
  }
  const ReferenceSet* references = nullptr;
  if (call->evidence_ > 0) {
    references = servable.references.get();
    FindEvidence(call->inputs, call->norms_, *references, call->evidence_, call->verdicts_);
  }
  const ServingAnswer answer{servable.card, call->outputs, call->norms_, call->verdicts_,
                             references};
  if (absl::Status s = call->Encode(answer); !s.ok()) return Fail(call, s);
  // The version's own series, resolved when it loaded (no label lookup per request).
  if (servable.observer) {
    ServedRequest served;
    served.method = call->method_;
    served.seconds = absl::ToDoubleSeconds(absl::Now() - call->start_);
    served.label_counts = call->verdicts_.label_counts;
    served.norms = call->norms_;
    served.out_of_distribution = call->verdicts_.out_of_distribution;
    served.uncertain = call->verdicts_.uncertain;
    servable.observer->OnServed(served);
  }
  if (call->shadow_) {
    shadow_->Submit(call->servable_, std::move(call->shadow_), call->inputs, call->norms_,
                    call->verdicts_);
  }
  call->servable_.reset();
  call->Finish(absl::OkStatus());
}

void ServingPath::Fail(ServingCall* call, const absl::Status& status) {
  call->shadow_.reset();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - call->start_);
  if (call->servable_) {
    const ModelCard& card = call->servable_->card;
    RecordFailure(call->method_, card.name, card.version, status, seconds);
  } else {
    RecordFailure(call->method_, call->model_.name, 0, status, seconds);
  }
  call->servable_.reset();
  call->Finish(status);
}

void ServingPath::Refuse(RequestMethod method, const std::string& model_name,
                         const absl::Status& status) {
  RecordFailure(method, model_name, 0, status, 0);
}

void ServingPath::RecordFailure(RequestMethod method, const std::string& model, int64_t version,
                                const absl::Status& status, double seconds) {
  // Names the repository does not have share one label value: any client could otherwise grow
  // /metrics without bound by sending made-up names.
  const bool known = version > 0 || registry_->Knows(model);
  metrics_->RecordRequest(known ? model : kUnknownModelLabel, version, method,
                          StatusCodeName(status.code()), seconds);
}

}  // namespace arginator::server
