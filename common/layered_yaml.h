#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace arginator {

// Configuration in layers, like the seed project's Hydra configs: built-in defaults (which also
// define the set of valid keys), then a YAML file, then dotted `key=value` overrides whose values
// are parsed as YAML. A key not in the defaults is INVALID_ARGUMENT listing every valid key.
// An empty mapping (`{}`) in the defaults is free-form: any keys may go under it.
absl::StatusOr<YAML::Node> LoadLayeredYaml(const char* defaults_yaml, const std::string& path,
                                           const std::vector<std::string>& overrides);

// Every leaf key of `node` in dotted form ("experiment.lr"), sorted.
std::vector<std::string> LeafKeys(const YAML::Node& node);

// The value at dotted `key`, converted to T; a conversion failure names the key and the value.
template <typename T>
absl::Status ReadKey(const YAML::Node& root, const std::string& key, T& out);

// INVALID_ARGUMENT with `message` unless `ok`.
absl::Status Require(bool ok, const std::string& message);

// --- implementation of the template ---
YAML::Node LookupKey(const YAML::Node& root, const std::string& key);
std::string FlowText(const YAML::Node& node);

template <typename T>
absl::Status ReadKey(const YAML::Node& root, const std::string& key, T& out) {
  const YAML::Node node = LookupKey(root, key);
  try {
    out = node.as<T>();
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError("config key '" + key +
                                      "' has an invalid value: " + FlowText(node));
  }
  return absl::OkStatus();
}

}  // namespace arginator
