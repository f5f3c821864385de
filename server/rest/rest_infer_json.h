#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
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

}  // namespace arginator::server
