#include "server/service/classify_job.h"

#include "server/service/request_parser.h"

namespace arginator::server {

void ClassifyJob::Start(const ClassifyEnv& env, RequestMethod method,
                        const v1::ClassifyRequest& request, absl::Time deadline,
                        v1::ClassifyResponse* response) {
  env_ = &env;
  method_ = method;
  request_ = &request;
  response_ = response;
  start_ = absl::Now();
  const std::string& name = request.model().name();
  absl::StatusOr<VersionSelector> selector = ParseModelSpec(request.model());
  if (!selector.ok()) return Fail(selector.status(), name, 0);
  absl::StatusOr<ServableHandle> handle = env.registry->Get(name, *selector);
  if (!handle.ok()) return Fail(handle.status(), name, 0);
  servable_ = *std::move(handle);
  const ModelCard& card = servable_->card;
  absl::StatusOr<RowsView> rows =
      ParseEmbeddings(request, card.input_dim, env.max_embeddings_per_request, scratch_, norms_);
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

void ClassifyJob::Done(const absl::Status& status) {
  const ModelCard& card = servable_->card;
  if (!status.ok()) {
    // A broken output contract is the version's fault, not this request's: out of service.
    if (IsOutputContractError(status) && env_->registry->MarkFailed(servable_.get(), status) &&
        env_->on_version_failed) {
      env_->on_version_failed();
    }
    return Fail(status, card.name, card.version);
  }
  if (absl::Status s = Postprocess(outputs, norms_, card, verdicts_); !s.ok()) {
    return Fail(s, card.name, card.version);
  }
  FillResponse(request_->return_probabilities());
  if (servable_->observer) {
    servable_->observer->OnServed(method_, absl::ToDoubleSeconds(absl::Now() - start_),
                                  verdicts_.label_counts, norms_, verdicts_.out_of_distribution);
  }
  servable_.reset();
  Finish(absl::OkStatus());
}

void ClassifyJob::FillResponse(bool with_probabilities) {
  const ModelCard& card = servable_->card;
  v1::ClassifyResponse& r = *response_;
  r.set_request_id(request_->request_id());
  r.set_model_name(card.name);
  r.set_model_version(card.version);
  for (const std::string& label : card.labels) r.add_labels(label);
  r.mutable_predictions()->Reserve(static_cast<int>(outputs.rows));
  for (int64_t i = 0; i < outputs.rows; ++i) {
    const RowVerdict& v = verdicts_.rows[static_cast<size_t>(i)];
    v1::Prediction* p = r.add_predictions();
    p->set_id(RowId(*request_, i));
    p->set_class_index(v.class_index);
    p->set_label(card.labels[static_cast<size_t>(v.class_index)]);
    p->set_score(v.score);
    p->set_l2_norm(norms_[static_cast<size_t>(i)]);
    p->set_out_of_distribution(v.out_of_distribution);
    if (with_probabilities) p->mutable_probabilities()->Add(outputs.row(i), outputs.row(i + 1));
  }
}

void ClassifyJob::Fail(const absl::Status& status, const std::string& model, int64_t version) {
  // Names the repository does not have share one label value: any client could otherwise grow
  // /metrics without bound by sending made-up names.
  const bool known = version > 0 || env_->registry->Knows(model);
  env_->metrics->RecordRequest(known ? model : kUnknownModelLabel, version, MethodName(method_),
                               CodeName(status.code()),
                               absl::ToDoubleSeconds(absl::Now() - start_));
  servable_.reset();
  Finish(status);
}

void ClassifyJob::ReleaseBuffers() {
  std::vector<float>().swap(scratch_);
  std::vector<float>().swap(norms_);
  std::vector<float>().swap(probs_);
  verdicts_ = Verdicts();
}

}  // namespace arginator::server
