#include "server/service/classify_job.h"

#include "server/service/request_parser.h"

namespace arginator::server {

void ClassifyJob::Start(const ClassifyEnv& env, RequestMethod method,
                        const v1::ClassifyRequest& request, absl::Time deadline,
                        v1::ClassifyResponse* response) {
  request_ = &request;
  response_ = response;
  Run(env, method, request.model().name(), ParseModelSpec(request.model()), deadline);
}

absl::StatusOr<RowsView> ClassifyJob::ParseRows(const ClassifyEnv& env, const ModelCard& card,
                                                std::vector<float>& scratch,
                                                std::vector<float>& norms) {
  return ParseEmbeddings(*request_, card.input_dim, env.max_embeddings_per_request, scratch, norms);
}

absl::Status ClassifyJob::Respond(const ModelCard& card, RowsView probabilities,
                                  const std::vector<float>& norms, const Verdicts& verdicts) {
  v1::ClassifyResponse& r = *response_;
  r.set_request_id(request_->request_id());
  r.set_model_name(card.name);
  r.set_model_version(card.version);
  for (const std::string& label : card.labels) r.add_labels(label);
  const bool with_probabilities = request_->return_probabilities();
  r.mutable_predictions()->Reserve(static_cast<int>(probabilities.rows));
  for (int64_t i = 0; i < probabilities.rows; ++i) {
    const RowVerdict& v = verdicts.rows[static_cast<size_t>(i)];
    v1::Prediction* p = r.add_predictions();
    p->set_id(RowId(*request_, i));
    p->set_class_index(v.class_index);
    p->set_label(card.labels[static_cast<size_t>(v.class_index)]);
    p->set_score(v.score);
    p->set_l2_norm(norms[static_cast<size_t>(i)]);
    p->set_out_of_distribution(v.out_of_distribution);
    if (with_probabilities) {
      p->mutable_probabilities()->Add(probabilities.row(i), probabilities.row(i + 1));
    }
  }
  return absl::OkStatus();
}

}  // namespace arginator::server
