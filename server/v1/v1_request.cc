#include "server/v1/v1_request.h"

#include "absl/strings/str_cat.h"
#include "server/grpc/grpc_edge.h"

namespace arginator::server {

void DecodeModelSpec(const v1::ModelSpec& spec, ModelRef& out) {
  out.name = spec.name();
  out.version.clear();
  out.label.clear();
  out.has_label = false;
  if (spec.selector_case() == v1::ModelSpec::kVersion) {
    out.version = absl::StrCat(spec.version());
  } else if (spec.selector_case() == v1::ModelSpec::kVersionLabel) {
    out.label = spec.version_label();
    out.has_label = true;
  }
}

absl::Status DecodeClassifyRows(const v1::ClassifyRequest& request, int dim, RequestRows& rows) {
  const bool repeated = request.embeddings_size() > 0;
  const std::string& bytes = request.packed_values();
  if (repeated && !bytes.empty()) {
    return absl::InvalidArgumentError("send either embeddings or packed_values, not both");
  }
  if (repeated) {
    rows.count = request.embeddings_size();
    rows.each.reserve(static_cast<size_t>(rows.count));
    for (const v1::Embedding& e : request.embeddings()) {
      rows.each.emplace_back(e.values().data(), static_cast<size_t>(e.values_size()));
    }
    return absl::OkStatus();
  }
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(dim);
  if (bytes.size() % row_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat("packed_values has ", bytes.size(),
                                                   " bytes, not a multiple of ", row_bytes,
                                                   " (rows of ", dim, " float32)"));
  }
  rows.count = static_cast<int64_t>(bytes.size() / row_bytes);
  if (request.packed_ids_size() != 0 && request.packed_ids_size() != rows.count) {
    return absl::InvalidArgumentError(absl::StrCat("packed_ids has ", request.packed_ids_size(),
                                                   " ids for ", rows.count, " rows"));
  }
  rows.block = bytes.data();
  rows.width = dim;
  return absl::OkStatus();
}

namespace {

// The id the client gave row `i`, if any.
std::string GivenId(const v1::ClassifyRequest& request, int64_t i) {
  if (request.embeddings_size() > 0) return request.embeddings(static_cast<int>(i)).id();
  if (request.packed_ids_size() > 0) return request.packed_ids(static_cast<int>(i));
  return "";
}

}  // namespace

std::string RowId(const v1::ClassifyRequest& request, int64_t i) {
  if (request.embeddings_size() == 0 && request.packed_ids_size() == 0) return absl::StrCat(i);
  return GivenId(request, i);
}

std::string ClassifyRowName(const v1::ClassifyRequest& request, int64_t i) {
  const std::string id = GivenId(request, i);
  return id.empty() ? absl::StrCat("embedding ", i)
                    : absl::StrCat("embedding ", i, " ('", id, "')");
}

absl::Status UnparseableClassifyRequest() {
  return UnparseableRequest(v1::ClassifyRequest::descriptor()->full_name());
}

void EncodeClassifyResponse(const v1::ClassifyRequest& request, const ServingAnswer& answer,
                            v1::ClassifyResponse& r) {
  const ModelCard& card = answer.card;
  r.set_request_id(request.request_id());
  r.set_model_name(card.name);
  r.set_model_version(card.version);
  for (const std::string& label : card.labels) r.add_labels(label);
  const bool with_probabilities = request.return_probabilities();
  const RowsView& probabilities = answer.probabilities;
  r.mutable_predictions()->Reserve(static_cast<int>(probabilities.rows));
  for (int64_t i = 0; i < probabilities.rows; ++i) {
    const RowVerdict& v = answer.verdicts.rows[static_cast<size_t>(i)];
    v1::Prediction* p = r.add_predictions();
    p->set_id(RowId(request, i));
    p->set_class_index(v.class_index);
    p->set_label(card.labels[static_cast<size_t>(v.class_index)]);
    p->set_score(v.score);
    p->set_l2_norm(answer.norms[static_cast<size_t>(i)]);
    p->set_out_of_distribution(v.out_of_distribution);
    p->set_call(CallName(card, v));
    p->set_confidence(ConfidenceName(v.confidence));
    p->set_call_probability(v.call_probability);
    p->set_ood_score(v.ood_score);
    const Verdicts& verdicts = answer.verdicts;
    for (int j = 0; answer.references != nullptr && j < verdicts.evidence_k; ++j) {
      const int64_t at = verdicts.evidence_index[static_cast<size_t>(i * verdicts.evidence_k + j)];
      if (at < 0) break;
      v1::Reference* e = p->add_evidence();
      e->set_id(answer.references->ids[static_cast<size_t>(at)]);
      e->set_label(
          card.labels[static_cast<size_t>(answer.references->labels[static_cast<size_t>(at)])]);
      e->set_cosine(verdicts.evidence_cosine[static_cast<size_t>(i * verdicts.evidence_k + j)]);
    }
    p->set_evidence_disagrees(v.evidence_disagrees);
    if (with_probabilities) {
      p->mutable_probabilities()->Add(probabilities.row(i), probabilities.row(i + 1));
      const float* calibrated = answer.verdicts.calibrated.data() + i * probabilities.cols;
      p->mutable_calibrated_probabilities()->Add(calibrated, calibrated + probabilities.cols);
    }
  }
}

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

}  // namespace

void FillVersionStatus(const VersionView& view, v1::VersionStatus* out) {
  out->set_version(view.version);
  out->set_state(ToProtoState(view.state));
  out->set_reason(view.reason);
  for (const auto& label : view.labels) out->add_version_labels(label);
}

}  // namespace arginator::server
