#include "server/service/served_job.h"

#include "common/status_code_names.h"
#include "server/service/request_parser.h"

namespace arginator::server {

void ServedJob::Run(const ClassifyEnv& env, RequestMethod method, const std::string& name,
                    const absl::StatusOr<VersionSelector>& selector, absl::Time deadline) {
  env_ = &env;
  method_ = method;
  start_ = absl::Now();
  if (!selector.ok()) return Fail(selector.status(), name, 0);
  absl::StatusOr<ServableHandle> handle = env.registry->Get(name, *selector);
  if (!handle.ok()) return Fail(handle.status(), name, 0);
  servable_ = *std::move(handle);
  const ModelCard& card = servable_->card;
  norms_.clear();
  absl::StatusOr<RowsView> rows = ParseRows(env, card, scratch_, norms_);
  if (!rows.ok()) return Fail(rows.status(), card.name, card.version);

  const auto cols = static_cast<int64_t>(card.labels.size());
  probs_.resize(static_cast<size_t>(rows->rows * cols));
  inputs = *rows;
  outputs = MutableRowsView(probs_.data(), rows->rows, cols);
  this->deadline = deadline;
  // The handle keeps the batcher alive while this thread may be running forwards in it, even
  // after Done has released the job's own handle.
  const ServableHandle servable = servable_;
  if (absl::Status s = servable->batcher->Enqueue(this); !s.ok()) {
    Fail(s, card.name, card.version);
  }
}

void ServedJob::Done(const absl::Status& status) {
  const ModelCard& card = servable_->card;
  if (!status.ok()) {
    // A broken output contract is the version's fault, not this request's: out of service (the
    // registry tells its observers, health among them).
    if (IsOutputContractError(status)) env_->registry->MarkFailed(servable_.get(), status);
    return Fail(status, card.name, card.version);
  }
  if (absl::Status s = Postprocess(outputs, norms_, card, verdicts_); !s.ok()) {
    return Fail(s, card.name, card.version);
  }
  if (absl::Status s = Respond(card, outputs, norms_, verdicts_); !s.ok()) {
    return Fail(s, card.name, card.version);
  }
  if (servable_->observer) {
    servable_->observer->OnServed(method_, absl::ToDoubleSeconds(absl::Now() - start_),
                                  verdicts_.label_counts, norms_, verdicts_.out_of_distribution);
  }
  servable_.reset();
  Finish(absl::OkStatus());
}

void ServedJob::Fail(const absl::Status& status, const std::string& model, int64_t version) {
  // Names the repository does not have share one label value: any client could otherwise grow
  // /metrics without bound by sending made-up names.
  const bool known = version > 0 || env_->registry->Knows(model);
  env_->metrics->RecordRequest(known ? model : kUnknownModelLabel, version, method_,
                               StatusCodeName(status.code()),
                               absl::ToDoubleSeconds(absl::Now() - start_));
  servable_.reset();
  Finish(status);
}

void ServedJob::ReleaseBuffers() {
  std::vector<float>().swap(scratch_);
  std::vector<float>().swap(norms_);
  std::vector<float>().swap(probs_);
  verdicts_ = Verdicts();
}

}  // namespace arginator::server
