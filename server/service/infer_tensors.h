#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/matrix_view.h"
#include "common/model_card.h"
#include "server/registry/model_registry.h"
#include "server/service/postprocess.h"

namespace arginator::server {

// The Open Inference Protocol (KServe v2) without its encodings: what the gRPC service and the
// REST server both decode a request into and encode a response from, so the two protocols share
// one set of rules (infer_tensors.cc) and differ only in their wire formats.
//
// How an Arginator model looks in v2: one input, `embedding` FP32 [-1, input_dim]; six outputs,
// in this order: `probabilities` FP32 [-1, C] (its parameter `labels` lists the classes),
// `label` BYTES [-1], `class_index` INT32 [-1], `score` FP32 [-1], `out_of_distribution` BOOL
// [-1] and `l2_norm` FP32 [-1]. The classification extension turns `probabilities` into BYTES
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

struct InferRequest {
  std::string model_name;
  std::string model_version;  // "" = the version the server chooses
  std::string id;
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

// The spec's version string: "" selects the default, else a positive integer.
// INVALID_ARGUMENT otherwise.
absl::StatusOr<VersionSelector> ParseModelVersion(const std::string& version);

// Checks a request against a model's card (one FP32 input `embedding` of shape [n, input_dim]
// with 1 <= n <= max_rows, contents matching the shape, known outputs with valid parameters) and
// returns its rows: a view of the raw bytes when they are float-aligned, else a copy in
// `scratch`. Appends one L2 norm per row to `norms` (NaN, Inf and float32 overflow are errors).
// INVALID_ARGUMENT names the tensor, the value and what was expected.
absl::StatusOr<RowsView> ParseInferInputs(const InferRequest& request, const ModelCard& card,
                                          int64_t max_rows, std::vector<float>& scratch,
                                          std::vector<float>& norms);

// The outputs the request asked for (every output if none), from the forward's probabilities,
// the rows' norms and the verdicts. Reuses the capacity of `out`.
void BuildInferOutputs(const InferRequest& request, const ModelCard& card, RowsView probabilities,
                       const std::vector<float>& norms, const Verdicts& verdicts,
                       std::vector<InferOutput>& out);

// An output's elements as the spec's raw bytes: row-major, little-endian; BOOL one byte each;
// BYTES each element preceded by its length as a 4-byte little-endian integer.
std::string RawContents(const InferOutput& output);

// The extensions this server implements, for ServerMetadata and GET /v2.
std::vector<std::string> SupportedExtensions();

}  // namespace arginator::server
