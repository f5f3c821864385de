#include "server/rest/rest_infer_json.h"

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

}  // namespace

absl::Status DecodeRestInferRequest(const nlohmann::json& body, std::string_view binary,
                                    InferRequest& out, std::vector<float>& values) {
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

}  // namespace arginator::server
