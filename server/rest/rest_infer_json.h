#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/bounded_json.h"
#include "nlohmann/json.hpp"
#include "server/v2/infer_tensors.h"

namespace arginator::server {

// The v2 REST inference request (its JSON header, parsed, and the binary section after it, for
// the binary tensor extension) as v2 tensors: inputs with `data` (flat, or nested exactly like
// their shape) or `parameters.binary_data_size` bytes taken in order from `binary`; requested
// outputs with their `classification` and `binary_data` parameters; `binary_data_output`, `timeout`
// and `version_label`.
// Typed FP32 values are stored in `values`, which the inputs point into and which must outlive
// `out`; binary inputs point into `binary`. INVALID_ARGUMENT names what was malformed (the
// tensor rules themselves are DecodeInferRows').
absl::Status DecodeRestInferRequest(const nlohmann::json& body, std::string_view binary,
                                    InferRequest& out, std::vector<float>& values);

// The whole request from its text: ParseBoundedJson(header, limits) then DecodeRestInferRequest,
// except that each input's `data`, when it is a flat array of numbers, is read straight into
// `values` (std::from_chars, correctly rounded as strtod is) instead of becoming ~1,000 DOM nodes:
// nlohmann-json's number lexer and strtod were ~45% of a REST request's CPU. The result and every
// error are the DOM path's: whatever the fast reader does not take (nested data, anything but a
// number, a number out of double's range, escaped or repeated keys, a document that does not
// parse) goes the DOM way. A JSON syntax or limit error sets *parse_error (the caller adds what
// it knows about the header's framing).
absl::Status ParseRestInferRequest(std::string_view header, std::string_view binary,
                                   const JsonLimits& limits, InferRequest& out,
                                   std::vector<float>& values, bool* parse_error);

}  // namespace arginator::server
