// Bytes -> a v2 REST inference body -> everything the server does with one before the forward
// and after it: the JSON parse, DecodeRestInferRequest (data flat or nested, binary sections),
// DecodeInferRows and the rows contract (CheckRows) against a small model, and BuildInferOutputs /
// RawContents on made-up probabilities. The input is the JSON header, then (after a NUL byte, if
// any) the binary section, as Inference-Header-Content-Length splits a real body. Checks the
// contracts the headers state, not only the absence of crashes.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/bounded_json.h"
#include "nlohmann/json.hpp"
#include "server/rest/rest_infer_json.h"
#include "server/serving/request_rules.h"
#include "server/v2/infer_tensors.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using arginator::ModelCard;
using arginator::RowsView;
namespace server = arginator::server;

constexpr int kDim = 4;
constexpr int64_t kMaxRows = 8;

ModelCard Card() {
  ModelCard card;
  card.name = "m";
  card.version = 1;
  card.input_dim = kDim;
  card.labels = {"a", "b", "c"};
  return card;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view header = input.substr(0, nul);
  const std::string_view binary = nul == std::string_view::npos ? "" : input.substr(nul + 1);
  // As the server parses it: depth and values bounded before anything walks the document.
  arginator::JsonLimits limits;
  limits.max_values = 1 << 16;
  // The server's reader (flat `data` arrays read without the DOM) must give exactly what the DOM
  // path gives: the same status and message, the same tensors and values.
  server::InferRequest request;
  std::vector<float> values;
  bool parse_error = false;
  absl::Status decoded =
      server::ParseRestInferRequest(header, binary, limits, request, values, &parse_error);
  absl::StatusOr<nlohmann::json> parsed =
      arginator::ParseBoundedJson(header, limits, "the request body");
  FUZZ_CHECK(parse_error == !parsed.ok());
  if (!parsed.ok()) {
    FUZZ_CHECK(decoded == parsed.status());
    return 0;
  }
  server::InferRequest dom_request;
  std::vector<float> dom_values;
  absl::Status dom = server::DecodeRestInferRequest(*parsed, binary, dom_request, dom_values);
  FUZZ_CHECK(decoded == dom);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(request.id == dom_request.id && request.timeout_us == dom_request.timeout_us &&
             request.version_label == dom_request.version_label &&
             request.evidence == dom_request.evidence &&
             request.all_binary == dom_request.all_binary &&
             request.inputs.size() == dom_request.inputs.size() &&
             request.outputs.size() == dom_request.outputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const server::InferInput &a = request.inputs[i], &b = dom_request.inputs[i];
    FUZZ_CHECK(a.name == b.name && a.datatype == b.datatype && a.shape == b.shape &&
               a.has_fp32 == b.has_fp32 && a.fp32_count == b.fp32_count && a.has_raw == b.has_raw &&
               a.raw == b.raw && a.raw_bytes == b.raw_bytes);
    for (int64_t k = 0; k < a.fp32_count; ++k) {  // bit for bit (NaN cannot come from JSON)
      FUZZ_CHECK(std::memcmp(a.fp32 + k, b.fp32 + k, sizeof(float)) == 0);
    }
  }
  for (const server::InferInput& in : request.inputs) {  // views stay inside what they view
    if (in.has_raw) {
      FUZZ_CHECK(in.raw >= binary.data() && in.raw_bytes >= 0 &&
                 in.raw + in.raw_bytes <= binary.data() + binary.size());
    }
    FUZZ_CHECK(in.fp32_count >= 0 && static_cast<size_t>(in.fp32_count) <= values.size());
  }

  const ModelCard card = Card();
  std::vector<float> scratch, norms;
  // The v2 format's rules, then the serving path's rows contract, as a request meets them.
  server::RequestRows decoded_rows;
  absl::Status format = server::DecodeInferRows(request, card, decoded_rows);
  if (!format.ok()) {
    FUZZ_CHECK(format.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  auto rows = server::CheckRows(
      decoded_rows, card.input_dim, kMaxRows,
      [](int64_t i) { return std::string("embedding ") + std::to_string(i); }, scratch, norms);
  if (!rows.ok()) {
    FUZZ_CHECK(rows.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  // Accepted: the rows the contract promises, finite, with one norm each.
  FUZZ_CHECK(rows->rows >= 1 && rows->rows <= kMaxRows && rows->cols == kDim);
  FUZZ_CHECK(norms.size() == static_cast<size_t>(rows->rows));
  for (int64_t i = 0; i < rows->rows; ++i) {
    for (int j = 0; j < kDim; ++j) FUZZ_CHECK(std::isfinite(rows->row(i)[j]));
  }

  const auto classes = static_cast<int64_t>(card.labels.size());
  std::vector<float> probs(static_cast<size_t>(rows->rows * classes), 1.0f / 3);
  server::Verdicts verdicts;
  FUZZ_CHECK(server::Postprocess(RowsView(probs.data(), rows->rows, classes), *rows, norms, card,
                                 nullptr, verdicts)
                 .ok());
  std::vector<server::InferOutput> outputs;
  server::BuildInferOutputs(
      request, {card, RowsView(probs.data(), rows->rows, classes), norms, verdicts}, outputs);
  FUZZ_CHECK(outputs.size() == (request.outputs.empty() ? 11 : request.outputs.size()));
  for (const server::InferOutput& o : outputs) {
    int64_t elements = 1;
    for (int64_t d : o.shape) elements *= d;
    const size_t held = o.fp32.size() + o.int32.size() + o.boolean.size() + o.bytes.size();
    FUZZ_CHECK(held == static_cast<size_t>(elements));
    FUZZ_CHECK(!server::RawContents(o).empty());
  }
  return 0;
}
