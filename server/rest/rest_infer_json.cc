#include "server/rest/rest_infer_json.h"

#include <charconv>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/bounded_json.h"
#include "common/status_macros.h"

namespace arginator::server {
namespace {

using nlohmann::json;

// The elements of a JSON array, flat or nested like `shape` (then every level must have its
// dimension's length), row-major, as float32.
absl::Status Flatten(const json& data, const std::vector<int64_t>& shape, size_t depth,
                     std::vector<float>& out) {
  // Tensors here have rank 2: deeper nesting is refused before it could exhaust the stack.
  if (depth > 4) return absl::InvalidArgumentError("input data is nested more than 4 deep");
  const bool nested = !data.empty() && data.front().is_array();
  if (nested || depth > 0) {
    if (depth >= shape.size() || static_cast<int64_t>(data.size()) != shape[depth]) {
      return absl::InvalidArgumentError(
          absl::StrCat("input data is nested unlike its shape: level ", depth, " has ", data.size(),
                       " elements where shape [", absl::StrJoin(shape, ", "), "] says ",
                       depth < shape.size() ? absl::StrCat(shape[depth]) : std::string("none")));
    }
  }
  for (const json& element : data) {
    if (element.is_array() != nested) {
      return absl::InvalidArgumentError(
          absl::StrCat("input data mixes arrays and numbers at level ", depth));
    }
    if (element.is_array()) {
      ARG_RETURN_IF_ERROR(Flatten(element, shape, depth + 1, out));
    } else if (element.is_number()) {
      out.push_back(element.get<float>());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("input data element ", out.size(),
                       " is not a number: ", Utf8Prefix(DumpJson(element), 64)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IntegerParameter(const json& parameters, const char* key) {
  const json& value = parameters.at(key);
  if (!value.is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", key, " must be an integer"));
  }
  return value.get<int64_t>();
}

// A flat array of numbers at inputs[input].data, spanning text[begin, end), read.
struct HoistedData {
  size_t input = 0;
  size_t begin = 0, end = 0;
  std::vector<float> values;
};

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The index after the run of ASCII digits starting at t[i]: eight bytes at a time while eight
// remain (a number's fraction is most of its text, and a byte at a time was a quarter of the
// time of a 1,024-row JSON request), then byte by byte. In a word of eight digits no byte is below
// '0' (so subtracting '0' from each borrows nowhere and leaves the top bits clear) and none above
// '9' (so adding 0x46 carries into no top bit); any other byte sets its own top bit in one of the
// two, which only sends the word to the bytewise loop.
size_t SkipDigits(std::string_view t, size_t i) {
  constexpr uint64_t kZeros = 0x3030303030303030ULL, kAbove9 = 0x4646464646464646ULL;
  constexpr uint64_t kTopBits = 0x8080808080808080ULL;
  const size_t n = t.size();
  while (i + 8 <= n) {
    uint64_t word;
    std::memcpy(&word, t.data() + i, sizeof(word));
    if (((word - kZeros) | (word + kAbove9)) & kTopBits) break;
    i += 8;
  }
  while (i < n && IsDigit(t[i])) ++i;
  return i;
}

// The length of the JSON number (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?) at
// text[i], 0 if there is none; *integer: it has neither fraction nor exponent.
size_t JsonNumberLength(std::string_view t, size_t i, bool* integer) {
  *integer = true;
  const size_t start = i, n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return 0;
  if (t[i] == '0') {
    ++i;
  } else if (t[i] >= '1' && t[i] <= '9') {
    i = SkipDigits(t, i);
  } else {
    return 0;
  }
  if (i < n && t[i] == '.') {
    *integer = false;
    if (++i >= n || !IsDigit(t[i])) return 0;
    i = SkipDigits(t, i);
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    *integer = false;
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !IsDigit(t[i])) return 0;
    i = SkipDigits(t, i);
  }
  return i - start;
}

// Reads the flat array of numbers whose '[' is text[i] into `values`; returns the index of its
// ']', or nullopt for anything else (nested arrays, strings, literals, malformed numbers, numbers
// beyond int64/uint64 or double).
std::optional<size_t> ReadFlatNumbers(std::string_view t, size_t i, std::vector<float>& values) {
  const auto skip_space = [&] {
    while (i < t.size() && IsJsonSpace(t[i])) ++i;
  };
  ++i;
  skip_space();
  if (i < t.size() && t[i] == ']') return i;
  while (true) {
    skip_space();
    bool integer = true;
    const size_t length = JsonNumberLength(t, i, &integer);
    if (length == 0) return std::nullopt;
    const std::string_view number = t.substr(i, length);
    const char* first = number.data();
    const char* last = first + length;
    float value = 0;
    // As nlohmann-json stores them: an integer as int64 (negative) or uint64, converted to float
    // directly ("-0" is +0); anything else as a correctly rounded double. Out of range: the DOM.
    if (integer) {
      if (number.front() == '-') {
        int64_t integer = 0;
        const auto [end, error] = std::from_chars(first, last, integer);
        if (error != std::errc() || end != last) return std::nullopt;
        value = static_cast<float>(integer);
      } else {
        uint64_t integer = 0;
        const auto [end, error] = std::from_chars(first, last, integer);
        if (error != std::errc() || end != last) return std::nullopt;
        value = static_cast<float>(integer);
      }
    } else {
      double real = 0;
      const auto [end, error] = std::from_chars(first, last, real);
      if (error != std::errc() || end != last) return std::nullopt;
      value = static_cast<float>(real);
    }
    values.push_back(value);
    i += length;
    skip_space();
    if (i >= t.size()) return std::nullopt;
    if (t[i] == ']') return i;
    if (t[i] != ',') return std::nullopt;
    ++i;
  }
}

// Finds and reads the flat `data` arrays of the root object's `inputs` elements; false (read
// nothing: the DOM path decides) at anything ambiguous: a key with an escape at the levels that
// matter, `inputs` or an input's `data` given twice, more than max_values numbers, an unterminated
// string or unbalanced brackets.
bool HoistDataArrays(std::string_view t, size_t max_values, std::vector<HoistedData>& out) {
  struct Level {
    char kind;             // '{' or '['
    std::string_view key;  // the member name this container is the value of
    size_t objects = 0;    // objects opened directly inside (for `inputs`: the input's index)
    bool has_data = false;
  };
  std::vector<Level> stack;
  std::string_view key;
  bool expect_key = false, has_inputs = false;
  size_t total = 0;
  const auto at_input = [&] {  // inside root.inputs[k], an object
    return stack.size() == 3 && stack[0].kind == '{' && stack[1].kind == '[' &&
           stack[1].key == "inputs" && stack[2].kind == '{';
  };
  for (size_t i = 0; i < t.size(); ++i) {
    switch (t[i]) {
      case '"': {
        const size_t start = ++i;
        bool escaped = false;
        while (i < t.size() && t[i] != '"') {
          if (t[i] == '\\') {
            escaped = true;
            ++i;
          }
          ++i;
        }
        if (i >= t.size()) return false;
        if (expect_key) {
          expect_key = false;
          key = t.substr(start, i - start);
          if (escaped && (stack.size() == 1 || at_input())) return false;
          if (stack.size() == 1 && key == "inputs") {
            if (has_inputs) return false;
            has_inputs = true;
          }
          if (at_input() && key == "data") {
            if (stack.back().has_data) return false;
            stack.back().has_data = true;
          }
        }
        break;
      }
      case '{':
      case '[': {
        if (!stack.empty() && stack.back().kind == '[' && t[i] == '{') ++stack.back().objects;
        if (t[i] == '[' && key == "data" && at_input()) {
          HoistedData data;
          data.input = stack[1].objects - 1;
          data.begin = i;
          const std::optional<size_t> close = ReadFlatNumbers(t, i, data.values);
          if (close.has_value()) {
            total += data.values.size();
            if (total > max_values) return false;
            data.end = *close + 1;
            out.push_back(std::move(data));
            i = *close;
            key = {};
            break;
          }
        }
        stack.push_back({t[i], key});
        expect_key = t[i] == '{';
        key = {};
        break;
      }
      case '}':
      case ']':
        if (stack.empty()) return false;
        stack.pop_back();
        key = {};
        break;
      case ',':
        expect_key = !stack.empty() && stack.back().kind == '{';
        key = {};
        break;
      default:
        break;
    }
  }
  return stack.empty();
}

absl::Status DecodeRequest(const nlohmann::json& body, std::string_view binary, InferRequest& out,
                           std::vector<float>& values, const std::vector<HoistedData>& hoisted);

}  // namespace

absl::Status ParseRestInferRequest(std::string_view header, std::string_view binary,
                                   const JsonLimits& limits, InferRequest& out,
                                   std::vector<float>& values, bool* parse_error) {
  *parse_error = false;
  std::vector<HoistedData> hoisted;
  if (HoistDataArrays(header, limits.max_values, hoisted) && !hoisted.empty()) {
    std::string stripped;  // the header with each hoisted array as []
    stripped.reserve(header.size());
    size_t from = 0;
    for (const HoistedData& h : hoisted) {
      stripped.append(header.substr(from, h.begin - from)).append("[]");
      from = h.end;
    }
    stripped.append(header.substr(from));
    // The numbers read count against the document's value limit as the DOM would count them.
    JsonLimits rest = limits;
    for (const HoistedData& h : hoisted) rest.max_values -= h.values.size();
    absl::StatusOr<json> body = ParseBoundedJson(stripped, rest, "the request body");
    InferRequest attempt = out;  // what the caller set (model name, version) and nothing else
    if (body.ok() && DecodeRequest(*body, binary, attempt, values, hoisted).ok()) {
      out = std::move(attempt);
      return absl::OkStatus();
    }
    // The DOM path gives the error, worded and positioned as ever.
  }
  absl::StatusOr<json> body = ParseBoundedJson(header, limits, "the request body");
  if (!body.ok()) {
    *parse_error = true;
    return body.status();
  }
  return DecodeRestInferRequest(*body, binary, out, values);
}

absl::Status DecodeRestInferRequest(const nlohmann::json& body, std::string_view binary,
                                    InferRequest& out, std::vector<float>& values) {
  return DecodeRequest(body, binary, out, values, {});
}

namespace {

absl::Status DecodeRequest(const nlohmann::json& body, std::string_view binary, InferRequest& out,
                           std::vector<float>& values, const std::vector<HoistedData>& hoisted) {
  if (!body.is_object()) return absl::InvalidArgumentError("the request must be a JSON object");
  if (body.contains("id")) {
    if (!body["id"].is_string()) return absl::InvalidArgumentError("id must be a string");
    out.id = body["id"].get<std::string>();
  }
  if (body.contains("parameters") && body["parameters"].is_object()) {
    const json& parameters = body["parameters"];
    if (parameters.contains("binary_data_output")) {
      out.all_binary = parameters["binary_data_output"] == true;
    }
    if (parameters.contains("timeout")) {
      const json& t = parameters["timeout"];
      ARG_RETURN_IF_ERROR(SetTimeoutParameter(t.is_number_integer(),
                                              t.is_number_integer() ? t.get<int64_t>() : 0, out));
    }
    if (parameters.contains("evidence")) {
      const json& k = parameters["evidence"];
      ARG_RETURN_IF_ERROR(SetEvidenceParameter(k.is_number_integer(),
                                               k.is_number_integer() ? k.get<int64_t>() : 0, out));
    }
    if (parameters.contains("version_label")) {
      const json& label = parameters["version_label"];
      ARG_RETURN_IF_ERROR(SetVersionLabelParameter(
          label.is_string(), label.is_string() ? label.get<std::string>() : "", out));
    }
  }
  if (!body.contains("inputs") || !body["inputs"].is_array()) {
    return absl::InvalidArgumentError("the request needs an \"inputs\" array");
  }
  const json& inputs = body["inputs"];
  values.clear();
  size_t offset = 0;  // into `binary`
  std::vector<size_t> starts;
  for (const json& tensor : inputs) {
    if (!tensor.is_object() || !tensor.contains("name") || !tensor["name"].is_string() ||
        !tensor.contains("datatype") || !tensor["datatype"].is_string() ||
        !tensor.contains("shape") || !tensor["shape"].is_array()) {
      return absl::InvalidArgumentError(
          "every input needs \"name\", \"datatype\" (strings) and \"shape\" (an array)");
    }
    InferInput& input = out.inputs.emplace_back();
    input.name = tensor["name"].get<std::string>();
    input.datatype = tensor["datatype"].get<std::string>();
    for (const json& d : tensor["shape"]) {
      if (!d.is_number_integer()) return absl::InvalidArgumentError("shape must hold integers");
      input.shape.push_back(d.get<int64_t>());
    }
    const json& parameters = tensor.value("parameters", json::object());
    if (parameters.is_object() && parameters.contains("binary_data_size")) {
      ARG_ASSIGN_OR_RETURN(int64_t size, IntegerParameter(parameters, "binary_data_size"));
      if (size < 0 || static_cast<size_t>(size) > binary.size() - offset) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", input.name, "' claims ", size, " bytes of binary data; ",
                         binary.size() - offset, " remain after the JSON header"));
      }
      input.has_raw = true;
      input.raw = binary.data() + offset;
      input.raw_bytes = size;
      offset += static_cast<size_t>(size);
    }
    starts.push_back(values.size());
    if (tensor.contains("data")) {
      if (!tensor["data"].is_array()) return absl::InvalidArgumentError("data must be an array");
      input.has_fp32 = true;
      if (input.datatype == "FP32") {
        ARG_RETURN_IF_ERROR(Flatten(tensor["data"], input.shape, 0, values));
        // A hoisted array stands in the DOM as [] (flat arrays meet no shape check).
        for (const HoistedData& h : hoisted) {
          if (h.input == out.inputs.size() - 1) {
            values.insert(values.end(), h.values.begin(), h.values.end());
          }
        }
      }
    }
  }
  if (offset != binary.size()) {
    return absl::InvalidArgumentError(absl::StrCat(binary.size() - offset,
                                                   " bytes of binary data after the JSON header "
                                                   "belong to no input (binary_data_size)"));
  }
  for (size_t i = 0; i < out.inputs.size(); ++i) {  // `values` is complete: point into it
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : values.size();
    out.inputs[i].fp32 = values.data() + starts[i];
    out.inputs[i].fp32_count = static_cast<int64_t>(end - starts[i]);
  }
  if (body.contains("outputs")) {
    if (!body["outputs"].is_array()) return absl::InvalidArgumentError("outputs must be an array");
    for (const json& tensor : body["outputs"]) {
      if (!tensor.is_object() || !tensor.contains("name") || !tensor["name"].is_string()) {
        return absl::InvalidArgumentError("every requested output needs a \"name\" string");
      }
      InferOutputRequest& output = out.outputs.emplace_back();
      output.name = tensor["name"].get<std::string>();
      const json& parameters = tensor.value("parameters", json::object());
      if (!parameters.is_object()) continue;
      if (parameters.contains("classification")) {
        ARG_ASSIGN_OR_RETURN(output.classification, IntegerParameter(parameters, "classification"));
      }
      if (parameters.contains("binary_data")) output.binary = parameters["binary_data"] == true;
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace arginator::server
