#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace arginator {

// What a JSON document from a peer may cost before it is parsed any further: nesting deeper than
// max_depth would make every recursive walk (dump, copy, comparison) a stack overflow, and a
// document of many small values costs ~16-100 bytes of memory per value against 2-4 bytes of text.
struct JsonLimits {
  size_t max_depth = 32;            // arrays and objects inside each other; the top level is 1
  size_t max_values = 1 << 22;      // every value: numbers, strings, literals, arrays, objects
  size_t max_containers = 1 << 16;  // arrays and objects among them
};

// Parses `text` into a DOM, stopping at the first value past `limits` (no recursion: a document
// nested a million deep is refused after max_depth levels). INVALID_ARGUMENT naming the limit, or
// the position of a syntax error; `what` names the document in messages.
absl::StatusOr<nlohmann::json> ParseBoundedJson(std::string_view text, const JsonLimits& limits,
                                                const std::string& what);

// `json` as text whatever its strings hold: invalid UTF-8 is replaced with U+FFFD instead of
// throwing, so an error that echoes a client's bytes is still valid JSON.
std::string DumpJson(const nlohmann::json& json);

// The longest prefix of `text` of at most `max_bytes` that does not end inside a UTF-8 sequence.
std::string Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace arginator
