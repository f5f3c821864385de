#include "server/v2/infer_tensors.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/bounded_json.h"
#include "common/status_macros.h"
#include "server/serving/edge_limits.h"

namespace arginator::server {
namespace {

constexpr const char* kOutputNames[] = {"probabilities",
                                        "label",
                                        "class_index",
                                        "score",
                                        "out_of_distribution",
                                        "l2_norm",
                                        "call",
                                        "confidence",
                                        "call_probability",
                                        "calibrated_probabilities",
                                        "ood_score"};

// With the evidence parameter only.
constexpr const char* kEvidenceOutputNames[] = {"evidence_id", "evidence_label", "evidence_cosine",
                                                "evidence_disagrees"};

bool IsEvidenceOutput(const std::string& name) {
  return std::find(std::begin(kEvidenceOutputNames), std::end(kEvidenceOutputNames), name) !=
         std::end(kEvidenceOutputNames);
}

bool IsOutputName(const std::string& name) {
  return std::find(std::begin(kOutputNames), std::end(kOutputNames), name) !=
             std::end(kOutputNames) ||
         IsEvidenceOutput(name);
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status CheckOutputs(const InferRequest& request, const ModelCard& card) {
  for (size_t i = 0; i < request.outputs.size(); ++i) {
    const InferOutputRequest& output = request.outputs[i];
    for (size_t j = 0; j < i; ++j) {
      if (request.outputs[j].name == output.name) {
        return absl::InvalidArgumentError(
            absl::StrCat("output '", output.name, "' is requested twice"));
      }
    }
    if (!IsOutputName(output.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown output '", Utf8Prefix(output.name, GetEdgeLimits().max_name_bytes),
          "' for model '", card.name, "'; its outputs are ", absl::StrJoin(kOutputNames, ", "),
          " and, with the evidence parameter, ", absl::StrJoin(kEvidenceOutputNames, ", ")));
    }
    if (IsEvidenceOutput(output.name) && request.evidence <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output '", output.name, "' needs the evidence parameter (nearest references per row)"));
    }
    if (output.classification == 0) continue;
    const auto classes = static_cast<int64_t>(card.labels.size());
    if (output.name != "probabilities") {
      return absl::InvalidArgumentError(
          absl::StrCat("the classification parameter applies to output 'probabilities', not '",
                       output.name, "'"));
    }
    if (output.classification < 1 || output.classification > classes) {
      return absl::InvalidArgumentError(absl::StrCat("classification ", output.classification,
                                                     " is not in [1, ", classes, "] (model '",
                                                     card.name, "' has ", classes, " classes)"));
    }
  }
  return absl::OkStatus();
}

// The input's elements, checked against its shape: the raw bytes, or the typed values.
absl::StatusOr<const void*> InputElements(const InferInput& input, int64_t elements) {
  if (input.has_raw) {
    const int64_t expected = elements * static_cast<int64_t>(sizeof(float));
    if (input.raw_bytes != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", kInputName, "' has ", input.raw_bytes, " bytes of raw contents; shape ",
          ShapeString(input.shape), " of FP32 needs ", expected));
    }
    return static_cast<const void*>(input.raw);
  }
  if (input.fp32_count != elements) {
    return absl::InvalidArgumentError(absl::StrCat("input '", kInputName, "' has ",
                                                   input.fp32_count, " FP32 values; shape ",
                                                   ShapeString(input.shape), " needs ", elements));
  }
  return static_cast<const void*>(input.fp32);
}

}  // namespace

std::vector<TensorMetadata> InputMetadata(const ModelCard& card) {
  return {{kInputName, "FP32", {-1, card.input_dim}}};
}

std::vector<TensorMetadata> OutputMetadata(const ModelCard& card) {
  return {{"probabilities", "FP32", {-1, static_cast<int64_t>(card.labels.size())}},
          {"label", "BYTES", {-1}},
          {"class_index", "INT32", {-1}},
          {"score", "FP32", {-1}},
          {"out_of_distribution", "BOOL", {-1}},
          {"l2_norm", "FP32", {-1}},
          {"call", "BYTES", {-1}},
          {"confidence", "BYTES", {-1}},
          {"call_probability", "FP32", {-1}},
          {"calibrated_probabilities", "FP32", {-1, static_cast<int64_t>(card.labels.size())}},
          {"ood_score", "FP32", {-1}}};
}

std::vector<std::string> SupportedExtensions() { return {"binary_tensor_data", "classification"}; }

absl::Status SetTimeoutParameter(bool is_int64, int64_t value, InferRequest& request) {
  if (!is_int64 || value < 0) {
    return absl::InvalidArgumentError(
        "the timeout parameter must be an int64 count of microseconds (0: none)");
  }
  request.timeout_us = value;
  return absl::OkStatus();
}

absl::Status SetVersionLabelParameter(bool is_string, const std::string& value,
                                      InferRequest& request) {
  if (!is_string) return absl::InvalidArgumentError("the version_label parameter must be a string");
  request.has_version_label = true;
  request.version_label = value;
  return absl::OkStatus();
}

absl::Status SetEvidenceParameter(bool is_int64, int64_t value, InferRequest& request) {
  if (!is_int64 || value < 0 || value > kMaxEvidence) {
    return absl::InvalidArgumentError(
        absl::StrCat("the evidence parameter must be an int64 in [0, ", kMaxEvidence,
                     "]: nearest references per row"));
  }
  request.evidence = value;
  return absl::OkStatus();
}

int InferEvidence(const InferRequest& request) { return static_cast<int>(request.evidence); }

void InferModelRef(const InferRequest& request, ModelRef& out) {
  out.name = request.model_name;
  out.version = request.model_version;
  out.has_label = request.has_version_label;
  out.label = request.version_label;
  out.request_id = request.id;
}

absl::Time InferDeadline(const InferRequest& request, absl::Time arrival, absl::Time transport) {
  if (request.timeout_us <= 0) return transport;
  return std::min(transport, arrival + absl::Microseconds(request.timeout_us));
}

absl::Status DecodeInferRows(const InferRequest& request, const ModelCard& card,
                             RequestRows& rows) {
  const int dim = card.input_dim;
  if (request.inputs.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("model '", card.name, "' takes one input, '",
                                                   kInputName, "' FP32 [-1, ", dim,
                                                   "]; the request has ", request.inputs.size()));
  }
  const InferInput& input = request.inputs[0];
  if (input.name != kInputName) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown input '", Utf8Prefix(input.name, GetEdgeLimits().max_name_bytes),
                     "' for model '", card.name, "'; its input is '", kInputName, "'"));
  }
  if (input.datatype != "FP32") {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", kInputName, "' has datatype ",
                     Utf8Prefix(input.datatype, GetEdgeLimits().max_name_bytes), "; model '",
                     card.name, "' takes FP32 (ProtT5 embeddings as float32)"));
  }
  // Any n and width within bounds here: the serving path's rows contract says what is wrong
  // with them, in the same words for every protocol.
  constexpr int64_t kMaxExtent = int64_t{1} << 28;
  if (input.shape.size() != 2 || input.shape[0] < 0 || input.shape[1] < 0 ||
      input.shape[0] > kMaxExtent || input.shape[1] > kMaxExtent) {
    return absl::InvalidArgumentError(absl::StrCat("input '", kInputName, "' has shape ",
                                                   ShapeString(input.shape), "; model '", card.name,
                                                   "' takes [n, ", dim, "], n >= 1"));
  }
  if (!input.other_typed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("input '", kInputName, "' is FP32 but has ",
                                                   input.other_typed, "; send fp32_contents"));
  }
  if (input.has_raw == input.has_fp32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input '", kInputName, "' needs its elements either typed (FP32 values) or raw, ",
        input.has_raw ? "not both" : "and has neither"));
  }
  ARG_RETURN_IF_ERROR(CheckOutputs(request, card));
  rows.count = input.shape[0];
  rows.width = input.shape[1];
  ARG_ASSIGN_OR_RETURN(rows.block, InputElements(input, rows.count * rows.width));
  return absl::OkStatus();
}

void BuildInferOutputs(const InferRequest& request, const ServingAnswer& answer,
                       std::vector<InferOutput>& out) {
  const ModelCard& card = answer.card;
  const RowsView& probabilities = answer.probabilities;
  const std::vector<float>& norms = answer.norms;
  const Verdicts& verdicts = answer.verdicts;
  std::vector<InferOutputRequest> wanted = request.outputs;
  if (wanted.empty()) {
    for (const char* name : kOutputNames) wanted.push_back({name});
    if (request.evidence > 0) {
      for (const char* name : kEvidenceOutputNames) wanted.push_back({name});
    }
  }
  const int evidence_k = verdicts.evidence_k;
  auto reference = [&](size_t row, int j) -> int64_t {
    return answer.references == nullptr
               ? -1
               : verdicts.evidence_index[row * static_cast<size_t>(evidence_k) +
                                         static_cast<size_t>(j)];
  };
  const int64_t n = probabilities.rows;
  const auto rows = static_cast<size_t>(n);
  out.resize(wanted.size());
  for (size_t k = 0; k < wanted.size(); ++k) {
    const InferOutputRequest& want = wanted[k];
    InferOutput& o = out[k];
    o = InferOutput{};
    o.name = want.name;
    o.binary = want.binary || request.all_binary;
    o.shape = {n};
    if (want.name == "probabilities" && want.classification > 0) {
      // Triton's classification extension: "score:index:label", most probable first.
      o.datatype = "BYTES";
      o.shape = {n, want.classification};
      std::vector<int> order(static_cast<size_t>(probabilities.cols));
      for (int64_t i = 0; i < n; ++i) {
        const float* p = probabilities.row(i);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [p](int a, int b) { return p[a] > p[b]; });
        for (int64_t j = 0; j < want.classification; ++j) {
          const int c = order[static_cast<size_t>(j)];
          o.bytes.push_back(absl::StrCat(p[c], ":", c, ":", card.labels[static_cast<size_t>(c)]));
        }
      }
    } else if (want.name == "probabilities") {
      o.datatype = "FP32";
      o.shape = {n, probabilities.cols};
      o.fp32.assign(probabilities.data, probabilities.data + probabilities.size());
      o.labels = absl::StrJoin(card.labels, ",");
    } else if (want.name == "label") {
      o.datatype = "BYTES";
      for (size_t i = 0; i < rows; ++i) {
        o.bytes.push_back(card.labels[static_cast<size_t>(verdicts.rows[i].class_index)]);
      }
    } else if (want.name == "class_index") {
      o.datatype = "INT32";
      for (size_t i = 0; i < rows; ++i) o.int32.push_back(verdicts.rows[i].class_index);
    } else if (want.name == "score") {
      o.datatype = "FP32";
      for (size_t i = 0; i < rows; ++i) o.fp32.push_back(verdicts.rows[i].score);
    } else if (want.name == "out_of_distribution") {
      o.datatype = "BOOL";
      for (size_t i = 0; i < rows; ++i) o.boolean.push_back(verdicts.rows[i].out_of_distribution);
    } else if (want.name == "l2_norm") {
      o.datatype = "FP32";
      o.fp32.assign(norms.begin(), norms.begin() + static_cast<std::ptrdiff_t>(rows));
    } else if (want.name == "call") {
      o.datatype = "BYTES";
      for (size_t i = 0; i < rows; ++i) o.bytes.push_back(CallName(card, verdicts.rows[i]));
    } else if (want.name == "confidence") {
      o.datatype = "BYTES";
      for (size_t i = 0; i < rows; ++i) {
        o.bytes.push_back(ConfidenceName(verdicts.rows[i].confidence));
      }
    } else if (want.name == "call_probability") {
      o.datatype = "FP32";
      for (size_t i = 0; i < rows; ++i) o.fp32.push_back(verdicts.rows[i].call_probability);
    } else if (want.name == "calibrated_probabilities") {
      o.datatype = "FP32";
      o.shape = {n, probabilities.cols};
      o.fp32.assign(
          verdicts.calibrated.begin(),
          verdicts.calibrated.begin() + static_cast<std::ptrdiff_t>(probabilities.size()));
      o.labels = absl::StrJoin(card.labels, ",");
    } else if (want.name == "ood_score") {
      o.datatype = "FP32";
      for (size_t i = 0; i < rows; ++i) o.fp32.push_back(verdicts.rows[i].ood_score);
    } else if (want.name == "evidence_id" || want.name == "evidence_label") {
      o.datatype = "BYTES";
      o.shape = {n, evidence_k};
      for (size_t i = 0; i < rows; ++i) {
        for (int j = 0; j < evidence_k; ++j) {
          const int64_t at = reference(i, j);
          if (at < 0) {
            o.bytes.emplace_back();
          } else if (want.name == "evidence_id") {
            o.bytes.push_back(answer.references->ids[static_cast<size_t>(at)]);
          } else {
            o.bytes.push_back(card.labels[static_cast<size_t>(
                answer.references->labels[static_cast<size_t>(at)])]);
          }
        }
      }
    } else if (want.name == "evidence_cosine") {
      o.datatype = "FP32";
      o.shape = {n, evidence_k};
      o.fp32.assign(verdicts.evidence_cosine.begin(),
                    verdicts.evidence_cosine.begin() +
                        static_cast<std::ptrdiff_t>(rows * static_cast<size_t>(evidence_k)));
    } else {  // evidence_disagrees; names were checked by DecodeInferRows
      o.datatype = "BOOL";
      for (size_t i = 0; i < rows; ++i) o.boolean.push_back(verdicts.rows[i].evidence_disagrees);
    }
  }
}

std::string RawContents(const InferOutput& output) {
  std::string raw;
  auto append = [&raw](const void* data, size_t bytes) {
    raw.append(static_cast<const char*>(data), bytes);
  };
  if (!output.fp32.empty()) append(output.fp32.data(), output.fp32.size() * sizeof(float));
  if (!output.int32.empty()) append(output.int32.data(), output.int32.size() * sizeof(int32_t));
  if (!output.boolean.empty()) append(output.boolean.data(), output.boolean.size());
  for (const std::string& element : output.bytes) {
    const auto length = static_cast<uint32_t>(element.size());
    append(&length, sizeof(length));
    raw += element;
  }
  return raw;
}

}  // namespace arginator::server
