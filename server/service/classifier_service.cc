#include "server/service/classifier_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/service/classify_stream_reactor.h"
#include "server/service/request_parser.h"

namespace arginator::server {
namespace {

v1::VersionStatus::State ToProtoState(VersionState state) {
  switch (state) {
    case VersionState::kLoading:
      return v1::VersionStatus::LOADING;
    case VersionState::kReady:
      return v1::VersionStatus::READY;
    case VersionState::kUnloading:
      return v1::VersionStatus::UNLOADING;
    case VersionState::kFailed:
      return v1::VersionStatus::FAILED;
    case VersionState::kUnloaded:
      return v1::VersionStatus::UNLOADED;
  }
  return v1::VersionStatus::STATE_UNSPECIFIED;
}

void FillVersionStatus(const VersionView& view, v1::VersionStatus* out) {
  out->set_version(view.version);
  out->set_state(ToProtoState(view.state));
  out->set_reason(view.reason);
  for (const auto& label : view.labels) out->add_version_labels(label);
}

absl::Time DeadlineOf(const grpc::CallbackServerContext* context) {
  auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

ClassifierService::ClassifierService(ModelRegistry* registry, ServerMetrics* metrics,
                                     Options options)
    : registry_(registry), metrics_(metrics), options_(options) {}

void ClassifierService::Submit(const v1::ClassifyRequest& request, absl::Time deadline,
                               v1::ClassifyResponse* response, Completion done) {
  const std::string& name = request.model().name();
  absl::StatusOr<VersionSelector> selector = ParseModelSpec(request.model());
  if (!selector.ok()) return done(selector.status(), name, 0);
  absl::StatusOr<ServableHandle> handle = registry_->Get(name, *selector);
  if (!handle.ok()) return done(handle.status(), name, 0);
  const ServableHandle servable = *std::move(handle);
  const ModelCard& card = servable->card;
  absl::StatusOr<ParsedEmbeddings> parsed =
      ParseEmbeddings(request, card.input_dim, options_.max_embeddings_per_request);
  if (!parsed.ok()) return done(parsed.status(), name, card.version);

  auto ids = std::make_shared<std::vector<std::string>>(std::move(parsed->ids));
  auto task = std::make_unique<InferenceTask>();
  task->n = parsed->n;
  task->inputs = std::move(parsed->values);
  task->deadline = deadline;
  const bool with_probabilities = request.return_probabilities();
  response->set_request_id(request.request_id());
  task->done = [this, servable, ids, norms = std::move(parsed->norms), with_probabilities, response,
                done](absl::StatusOr<Matrix> result) {
    const ModelCard& card = servable->card;
    if (!result.ok()) return done(result.status(), card.name, card.version);
    response->set_model_name(card.name);
    response->set_model_version(card.version);
    for (const auto& label : card.labels) response->add_labels(label);
    const Matrix& probs = *result;
    std::vector<int64_t> label_counts(card.labels.size(), 0);
    int64_t out_of_distribution = 0;
    response->mutable_predictions()->Reserve(static_cast<int>(probs.rows));
    for (int64_t i = 0; i < probs.rows; ++i) {
      const float* row = probs.values.data() + i * probs.cols;
      const int best = static_cast<int>(std::max_element(row, row + probs.cols) - row);
      v1::Prediction* p = response->add_predictions();
      p->set_id((*ids)[i]);
      p->set_class_index(best);
      p->set_label(card.labels[best]);
      p->set_score(row[best]);
      p->set_l2_norm(norms[i]);
      const bool ood = norms[i] < card.input_norm.min || norms[i] > card.input_norm.max;
      p->set_out_of_distribution(ood);
      if (with_probabilities) p->mutable_probabilities()->Add(row, row + probs.cols);
      ++label_counts[best];
      out_of_distribution += ood;
    }
    metrics_->RecordPredictions(card.name, card.version, card.labels, label_counts, norms,
                                out_of_distribution);
    metrics_->RecordEmbeddings(card.name, card.version, probs.rows);
    done(absl::OkStatus(), card.name, card.version);
  };
  if (absl::Status s = servable->batcher->Enqueue(std::move(task)); !s.ok()) {
    done(s, card.name, card.version);
  }
}

grpc::ServerUnaryReactor* ClassifierService::Classify(grpc::CallbackServerContext* context,
                                                      const v1::ClassifyRequest* request,
                                                      v1::ClassifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  Submit(*request, DeadlineOf(context), response,
         [this, reactor, start](const absl::Status& status, const std::string& model,
                                int64_t version) {
           metrics_->RecordRequest(model, version, "Classify", CodeName(status.code()),
                                   absl::ToDoubleSeconds(absl::Now() - start));
           reactor->Finish(ToGrpcStatus(status));
         });
  return reactor;
}

grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyStreamResponse>*
ClassifierService::ClassifyStream(grpc::CallbackServerContext* context) {
  return new ClassifyStreamReactor(this, DeadlineOf(context));
}

grpc::ServerUnaryReactor* ClassifierService::ListModels(grpc::CallbackServerContext* context,
                                                        const v1::ListModelsRequest*,
                                                        v1::ListModelsResponse* response) {
  for (const ModelView& model : registry_->Snapshot()) {
    v1::ModelStatus* m = response->add_models();
    m->set_name(model.name);
    if (model.default_version) {
      m->set_task(model.default_version->card.task);
      m->set_default_version(model.default_version->card.version);
      for (const auto& label : model.default_version->card.labels) m->add_labels(label);
    }
    for (const VersionView& v : model.versions) FillVersionStatus(v, m->add_versions());
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ClassifierService::GetModelMetadata(
    grpc::CallbackServerContext* context, const v1::GetModelMetadataRequest* request,
    v1::GetModelMetadataResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<VersionSelector> selector = ParseModelSpec(request->model());
    if (!selector.ok()) return selector.status();
    absl::StatusOr<ServableHandle> handle = registry_->Get(request->model().name(), *selector);
    if (!handle.ok()) return handle.status();
    const ModelCard& card = (*handle)->card;
    response->set_name(card.name);
    response->set_version(card.version);
    response->set_task(card.task);
    response->set_input_dim(card.input_dim);
    for (const auto& label : card.labels) response->add_labels(label);
    response->set_output(card.output);
    response->set_created(card.created);
    response->set_model_sha256(card.model_sha256);
    response->set_metrics_json(card.metrics.dump());
    response->set_architecture_json(card.architecture.dump());
    response->set_dataset_json(card.dataset.dump());
    response->set_input_norm_min(card.input_norm.min);
    response->set_input_norm_max(card.input_norm.max);
    for (const ModelView& model : registry_->Snapshot()) {
      if (model.name != card.name) continue;
      for (const VersionView& v : model.versions) {
        if (v.version == card.version) FillVersionStatus(v, response->mutable_status());
      }
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace arginator::server
