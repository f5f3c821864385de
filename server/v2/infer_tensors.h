#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/matrix_view.h"
#include "common/model_card.h"
#include "server/serving/postprocess.h"
#include "server/serving/request_rules.h"
#include "server/serving/serving_path.h"

namespace arginator::server {

// The Open Inference Protocol (KServe v2) without its encodings: what the gRPC service
// (inference_service.h) and the REST server (server/rest/) both decode a request into and encode
// an answer from, so the two differ only in their wire formats. The serving rules themselves
// (selection, rows, deadline) are the serving path's.
//
// How an Arginator model looks in v2: one input, `embedding` FP32 [-1, input_dim]; eleven
// outputs, in this order: `probabilities` FP32 [-1, C] (its parameter `labels` lists the
// classes), `label` BYTES [-1], `class_index` INT32 [-1], `score` FP32 [-1],
// `out_of_distribution` BOOL [-1], `l2_norm` FP32 [-1], then the decision (common/
// decision_policy.h): `call` BYTES [-1] (a label or "uncertain"), `confidence` BYTES [-1]
// (High, Medium, Low), `call_probability` FP32 [-1], `calibrated_probabilities` FP32 [-1, C] and
// `ood_score` FP32 [-1]. The classification extension turns `probabilities` into BYTES
// [-1, k] of "score:index:label", the k most probable classes.

inline constexpr char kInputName[] = "embedding";
inline constexpr char kPlatform[] = "pytorch_libtorch";

struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;  // -1: any size
};
std::vector<TensorMetadata> InputMetadata(const ModelCard& card);
std::vector<TensorMetadata> OutputMetadata(const ModelCard& card);

// One input tensor of a request. Its elements are either typed FP32 values or raw bytes; views
// into the decoded request, which outlives the InferRequest.
struct InferInput {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  bool has_fp32 = false;  // typed FP32 values given (possibly none)
  const float* fp32 = nullptr;
  int64_t fp32_count = 0;
  bool has_raw = false;  // raw little-endian bytes given
  const char* raw = nullptr;
  int64_t raw_bytes = 0;
  std::string other_typed;  // the typed field given for another datatype (e.g. "int_contents")
};

// One output a request asks for, with its parameters.
struct InferOutputRequest {
  std::string name;
  int64_t classification = 0;  // > 0: the classification extension's top k
  bool binary = false;         // REST's binary tensor extension
};

// Request parameters this server reads (every other parameter is ignored, as the spec allows):
//   timeout        int64, microseconds (Triton's schedule-policy parameter): the request fails
//                  with DEADLINE_EXCEEDED if its forward has not run by then; the earlier of it
//                  and the transport's own deadline applies
//   version_label  string: serve the version this label points to (instead of a version number)
//   evidence       int64: how many nearest references each row carries (0..50), in the outputs
//                  evidence_id and evidence_label BYTES [-1, k], evidence_cosine FP32 [-1, k]
//                  and evidence_disagrees BOOL [-1] (added to the default outputs)
struct InferRequest {
  std::string model_name;
  std::string model_version;  // "" = the version the server chooses
  std::string id;
  int64_t timeout_us = 0;  // 0: none
  bool has_version_label = false;
  std::string version_label;
  int64_t evidence = 0;
  std::vector<InferInput> inputs;
  std::vector<InferOutputRequest> outputs;  // empty = every output, in metadata order
  bool all_binary = false;                  // REST's binary_data_output: every output in binary
};

// One output tensor of a response; the vector of its datatype holds its elements, row-major.
struct InferOutput {
  std::string name;
  std::string datatype;  // FP32, INT32, BOOL or BYTES
  std::vector<int64_t> shape;
  std::vector<float> fp32;
  std::vector<int32_t> int32;
  std::vector<uint8_t> boolean;
  std::vector<std::string> bytes;
  std::string labels;  // the `labels` parameter ("a,b,c"); empty for none
  bool binary = false;
};

// The request-level parameters the spec leaves to servers, from either encoding's parameter
// map: `name` and whether it holds an int64 / a string. INVALID_ARGUMENT for a known parameter of
// the wrong type or value.
absl::Status SetTimeoutParameter(bool is_int64, int64_t value, InferRequest& request);
absl::Status SetVersionLabelParameter(bool is_string, const std::string& value,
                                      InferRequest& request);
absl::Status SetEvidenceParameter(bool is_int64, int64_t value, InferRequest& request);

// The model a request names (URL or message, plus its version_label parameter).
void InferModelRef(const InferRequest& request, ModelRef& out);
// Its evidence parameter, for the serving path (which checks the range).
int InferEvidence(const InferRequest& request);
// The request's deadline: the earlier of the transport's and `arrival` + its timeout parameter.
absl::Time InferDeadline(const InferRequest& request, absl::Time arrival, absl::Time transport);

// The v2 format's rules for a model's card (one FP32 input `embedding` of shape [n, w], contents
// matching the shape, known outputs with valid parameters), and its rows for the serving path:
// one block of n rows of w values (the raw bytes, or the typed values). INVALID_ARGUMENT names
// the tensor, the value and what was expected; the rows contract (n, w, values) is the path's.
absl::Status DecodeInferRows(const InferRequest& request, const ModelCard& card, RequestRows& rows);

// The outputs the request asked for (every output if none), from the serving path's answer.
// Reuses the capacity of `out`.
void BuildInferOutputs(const InferRequest& request, const ServingAnswer& answer,
                       std::vector<InferOutput>& out);

// An output's elements as the spec's raw bytes: row-major, little-endian; BOOL one byte each;
// BYTES each element preceded by its length as a 4-byte little-endian integer.
std::string RawContents(const InferOutput& output);

// The extensions this server implements, for ServerMetadata and GET /v2.
std::vector<std::string> SupportedExtensions();

}  // namespace arginator::server
