#include "server/v2/inference_service.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/grpc/grpc_edge.h"
#include "server/grpc/unary_call.h"
#include "server/v2/infer_tensors.h"
#include "server/v2/model_metadata.h"

namespace arginator::server {
namespace {

// The typed field a non-FP32 tensor filled, for the error that names it.
std::string OtherTypedField(const inference::InferTensorContents& c) {
  if (c.bool_contents_size() > 0) return "bool_contents";
  if (c.int_contents_size() > 0) return "int_contents";
  if (c.int64_contents_size() > 0) return "int64_contents";
  if (c.uint_contents_size() > 0) return "uint_contents";
  if (c.uint64_contents_size() > 0) return "uint64_contents";
  if (c.fp64_contents_size() > 0) return "fp64_contents";
  if (c.bytes_contents_size() > 0) return "bytes_contents";
  return "";
}

// The request as v2 tensors, viewing the message (which outlives the call).
absl::Status Decode(const inference::ModelInferRequest& in, InferRequest& out) {
  out.model_name = in.model_name();
  out.model_version = in.model_version();
  out.id = in.id();
  for (const auto& [name, value] : in.parameters()) {
    if (name == "timeout") {
      ARG_RETURN_IF_ERROR(SetTimeoutParameter(
          value.parameter_choice_case() == inference::InferParameter::kInt64Param,
          value.int64_param(), out));
    } else if (name == "version_label") {
      ARG_RETURN_IF_ERROR(SetVersionLabelParameter(
          value.parameter_choice_case() == inference::InferParameter::kStringParam,
          value.string_param(), out));
    } else if (name == "evidence") {
      ARG_RETURN_IF_ERROR(SetEvidenceParameter(
          value.parameter_choice_case() == inference::InferParameter::kInt64Param,
          value.int64_param(), out));
    }
  }
  const int raw = in.raw_input_contents_size();
  if (raw > 0 && raw != in.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat("raw_input_contents has ", raw, " entries for ",
                                                   in.inputs_size(),
                                                   " inputs (one per input, in order)"));
  }
  out.inputs.clear();
  for (int i = 0; i < in.inputs_size(); ++i) {
    const auto& tensor = in.inputs(i);
    InferInput& input = out.inputs.emplace_back();
    input.name = tensor.name();
    input.datatype = tensor.datatype();
    input.shape.assign(tensor.shape().begin(), tensor.shape().end());
    if (raw > 0) {
      input.has_raw = true;
      input.raw = in.raw_input_contents(i).data();
      input.raw_bytes = static_cast<int64_t>(in.raw_input_contents(i).size());
    }
    if (tensor.has_contents() || raw == 0) {
      const auto& contents = tensor.contents();
      input.has_fp32 = raw == 0 || contents.fp32_contents_size() > 0;
      input.fp32 = contents.fp32_contents().data();
      input.fp32_count = contents.fp32_contents_size();
      input.other_typed = OtherTypedField(contents);
    }
  }
  out.outputs.clear();
  for (const auto& tensor : in.outputs()) {
    InferOutputRequest& output = out.outputs.emplace_back();
    output.name = tensor.name();
    if (auto it = tensor.parameters().find("classification"); it != tensor.parameters().end()) {
      if (it->second.parameter_choice_case() != inference::InferParameter::kInt64Param) {
        return absl::InvalidArgumentError(absl::StrCat(
            "output '", output.name, "': the classification parameter must be an int64_param"));
      }
      output.classification = it->second.int64_param();
    }
  }
  return absl::OkStatus();
}

void FillOutput(const InferOutput& output, bool raw, inference::ModelInferResponse& response) {
  auto* tensor = response.add_outputs();
  tensor->set_name(output.name);
  tensor->set_datatype(output.datatype);
  for (int64_t d : output.shape) tensor->add_shape(d);
  if (!output.labels.empty()) {
    (*tensor->mutable_parameters())["labels"].set_string_param(output.labels);
  }
  if (raw) {
    response.add_raw_output_contents(RawContents(output));
    return;
  }
  auto* contents = tensor->mutable_contents();
  contents->mutable_fp32_contents()->Add(output.fp32.begin(), output.fp32.end());
  contents->mutable_int_contents()->Add(output.int32.begin(), output.int32.end());
  for (uint8_t b : output.boolean) contents->add_bool_contents(b != 0);
  for (const std::string& s : output.bytes) contents->add_bytes_contents(s);
}

// One ModelInfer call on the serving path; deletes itself when it finishes.
class GrpcInferCall final : public ServingCall {
 public:
  GrpcInferCall(const inference::ModelInferRequest* request,
                inference::ModelInferResponse* response, UnaryDone done)
      : request_(request), response_(response), done_(std::move(done)) {}

  void Start(ServingPath* path, absl::Time arrival, absl::Time transport_deadline) {
    if (absl::Status s = Decode(*request_, view_); !s.ok()) {
      path->Refuse(RequestMethod::kModelInferGrpc, request_->model_name(), s);
      return Finish(s);
    }
    InferModelRef(view_, model());
    evidence() = InferEvidence(view_);
    path->Serve(this, RequestMethod::kModelInferGrpc,
                InferDeadline(view_, arrival, transport_deadline));
  }

 private:
  absl::Status DecodeRows(const ModelCard& card, RequestRows& rows) override {
    return DecodeInferRows(view_, card, rows);
  }

  absl::Status Encode(const ServingAnswer& answer) override {
    std::vector<InferOutput> outputs;
    BuildInferOutputs(view_, answer, outputs);
    response_->set_model_name(answer.card.name);
    response_->set_model_version(absl::StrCat(answer.card.version));
    response_->set_id(request_->id());
    const bool raw = request_->raw_input_contents_size() > 0;
    for (const InferOutput& output : outputs) FillOutput(output, raw, *response_);
    return absl::OkStatus();
  }

  void Finish(const absl::Status& status) override {
    UnaryDone done = std::move(done_);
    delete this;
    done(status);
  }

  const inference::ModelInferRequest* const request_;
  inference::ModelInferResponse* const response_;
  UnaryDone done_;
  InferRequest view_;
};

}  // namespace

grpc::ServerUnaryReactor* InferenceService::ServerLive(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* in,
                                                       grpc::ByteBuffer* out) {
  return ServeUnary<inference::ServerLiveRequest, inference::ServerLiveResponse>(
      context, in, out, [this](const auto&, auto* response, UnaryDone done) {
        response->set_live(status_->Live());
        done(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return ServeUnary<inference::ServerReadyRequest, inference::ServerReadyResponse>(
      context, in, out, [this](const auto&, auto* response, UnaryDone done) {
        response->set_ready(status_->Ready());
        done(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* in,
                                                       grpc::ByteBuffer* out) {
  return ServeUnary<inference::ModelReadyRequest, inference::ModelReadyResponse>(
      context, in, out, [this](const auto& request, auto* response, UnaryDone done) {
        done(ModelReadyAnswer(request, response));
      });
}

absl::Status InferenceService::ModelReadyAnswer(const inference::ModelReadyRequest& request,
                                                inference::ModelReadyResponse* response) const {
  ARG_ASSIGN_OR_RETURN(const bool ready, ModelIsReady(*status_, request.name(), request.version()));
  response->set_ready(ready);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* in,
                                                           grpc::ByteBuffer* out) {
  return ServeUnary<inference::ServerMetadataRequest, inference::ServerMetadataResponse>(
      context, in, out, [](const auto&, auto* response, UnaryDone done) {
        response->set_name(kServerName);
        response->set_version(ServerVersion());
        for (const std::string& e : SupportedExtensions()) response->add_extensions(e);
        done(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* in,
                                                          grpc::ByteBuffer* out) {
  return ServeUnary<inference::ModelMetadataRequest, inference::ModelMetadataResponse>(
      context, in, out, [this](const auto& request, auto* response, UnaryDone done) {
        done(ModelMetadataAnswer(request, response));
      });
}

absl::Status InferenceService::ModelMetadataAnswer(
    const inference::ModelMetadataRequest& request,
    inference::ModelMetadataResponse* response) const {
  absl::StatusOr<server::ModelMetadata> metadata =
      GetModelMetadata(*path_, request.name(), request.version());
  if (!metadata.ok()) return metadata.status();
  response->set_name(metadata->name);
  for (const std::string& v : metadata->versions) response->add_versions(v);
  response->set_platform(kPlatform);
  for (const auto& [list, tensors] : {std::pair{&metadata->inputs, response->mutable_inputs()},
                                      std::pair{&metadata->outputs, response->mutable_outputs()}}) {
    for (const TensorMetadata& t : *list) {
      auto* tensor = tensors->Add();
      tensor->set_name(t.name);
      tensor->set_datatype(t.datatype);
      for (int64_t d : t.shape) tensor->add_shape(d);
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* in,
                                                       grpc::ByteBuffer* out) {
  const absl::Time arrival = absl::Now();
  const absl::Time deadline = DeadlineOf(context);
  return ServeUnary<inference::ModelInferRequest, inference::ModelInferResponse>(
      context, in, out,
      [this, arrival, deadline](const auto& request, auto* response, UnaryDone done) {
        (new GrpcInferCall(&request, response, std::move(done)))->Start(path_, arrival, deadline);
      });
}

}  // namespace arginator::server
