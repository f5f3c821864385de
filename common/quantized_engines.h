#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace arginator {

// LibTorch's quantized engines, for int8 model packages: the trainer packs an int8 model's
// weights for one engine (recorded in its card's `quantization.engine`) and the server loads it
// with that engine current. In arginator_torch_engines, the one part of the package contract that
// needs LibTorch.

// The quantized engines this LibTorch build has, by lower-case name ("onednn", "x86", "fbgemm",
// "qnnpack").
std::vector<std::string> QuantizedEngineNames();

// Makes `engine` LibTorch's (process-wide) quantized engine and returns the name of the one it
// replaced. FAILED_PRECONDITION "this LibTorch build has no quantized engine 'x' (it has: ...)".
absl::StatusOr<std::string> SetQuantizedEngine(const std::string& engine);

}  // namespace arginator
