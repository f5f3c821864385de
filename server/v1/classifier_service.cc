#include "server/v1/classifier_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/grpc/grpc_edge.h"
#include "server/grpc/unary_call.h"

namespace arginator::server {

grpc::ServerUnaryReactor* ClassifierService::Classify(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  calls_.Take()->Start(path_, in, out, DeadlineOf(context), reactor);
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ClassifierService::ClassifyStream(
    grpc::CallbackServerContext* context) {
  return streams_.Open(path_, options_.stream_max_in_flight, DeadlineOf(context));
}

grpc::ServerUnaryReactor* ClassifierService::ListModels(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return ServeUnary<v1::ListModelsRequest, v1::ListModelsResponse>(
      context, in, out, [this](const auto&, auto* response, UnaryDone done) {
        FillModels(response);
        done(absl::OkStatus());
      });
}

void ClassifierService::FillModels(v1::ListModelsResponse* response) const {
  for (const ModelView& model : path_->registry()->Snapshot()) {
    v1::ModelStatus* m = response->add_models();
    m->set_name(model.name);
    if (model.default_version) {
      m->set_task(model.default_version->card.task);
      m->set_default_version(model.default_version->card.version);
      for (const auto& label : model.default_version->card.labels) m->add_labels(label);
    }
    for (const VersionView& v : model.versions) FillVersionStatus(v, m->add_versions());
  }
}

grpc::ServerUnaryReactor* ClassifierService::GetModelMetadata(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* in,
                                                              grpc::ByteBuffer* out) {
  return ServeUnary<v1::GetModelMetadataRequest, v1::GetModelMetadataResponse>(
      context, in, out, [this](const auto& request, auto* response, UnaryDone done) {
        done(FillModelMetadata(request, response));
      });
}

absl::Status ClassifierService::FillModelMetadata(const v1::GetModelMetadataRequest& request,
                                                  v1::GetModelMetadataResponse* response) const {
  ModelRef model;
  DecodeModelSpec(request.model(), model);
  absl::StatusOr<ServableHandle> handle = path_->Select(model);
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
  for (const ModelView& model : path_->registry()->Snapshot()) {
    if (model.name != card.name) continue;
    for (const VersionView& v : model.versions) {
      if (v.version == card.version) FillVersionStatus(v, response->mutable_status());
    }
  }
  return absl::OkStatus();
}

}  // namespace arginator::server
