#include "common/layered_yaml.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace arginator {
namespace {

void CollectKeys(const YAML::Node& node, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& kv : node) {
    std::string key = prefix.empty() ? kv.first.as<std::string>()
                                     : absl::StrCat(prefix, ".", kv.first.as<std::string>());
    if (kv.second.IsMap() && kv.second.size() > 0) {  // an empty mapping is a free-form leaf
      CollectKeys(kv.second, key, out);
    } else {
      out.push_back(key);
    }
  }
}

absl::Status UnknownKey(const std::string& key, const std::string& source,
                        const std::vector<std::string>& valid) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": unknown config key '", key,
                                                 "'; valid keys: ", absl::StrJoin(valid, ", ")));
}

// Merges `src` into `dst` (a clone of the defaults); only keys present in the defaults are allowed.
absl::Status MergeInto(YAML::Node dst, const YAML::Node& src, const std::string& prefix,
                       const std::string& source, const std::vector<std::string>& valid) {
  if (!src.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a mapping at '", prefix.empty() ? "<root>" : prefix, "'"));
  }
  for (const auto& kv : src) {
    // as<std::string>() throws for a mapping or sequence used as a key (`? [a, b]`, `{[1]: 2}`):
    // uncaught, it aborted arginator-server and arginator-train (found by tests/fuzz/config).
    if (kv.first.IsMap() || kv.first.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": a key at '", prefix.empty() ? "<root>" : prefix, "' is a ",
          kv.first.IsMap() ? "mapping" : "sequence", ", not a name: ", FlowText(kv.first)));
    }
    std::string name = kv.first.as<std::string>();
    std::string key = prefix.empty() ? name : absl::StrCat(prefix, ".", name);
    if (!dst[name]) return UnknownKey(key, source, valid);
    YAML::Node slot = dst[name];
    if (slot.IsMap() && slot.size() == 0) {
      // An empty mapping in the defaults is free-form (e.g. model name -> label): take it whole.
      if (!kv.second.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": '", key, "' takes a mapping"));
      }
      dst[name] = YAML::Clone(kv.second);
    } else if (slot.IsMap()) {
      ARG_RETURN_IF_ERROR(MergeInto(slot, kv.second, key, source, valid));
    } else if (kv.second.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": '", key, "' takes a value, not a mapping"));
    } else {
      dst[name] = YAML::Clone(kv.second);
    }
  }
  return absl::OkStatus();
}

// `root` by value: a YAML::Node is a handle, and MergeInto writes through it.
absl::Status ApplyOverride(YAML::Node root,  // NOLINT(performance-unnecessary-value-param)
                           const std::string& text, const std::vector<std::string>& valid) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("override '", text, "' is not of the form key=value"));
  }
  std::string key = text.substr(0, eq);
  bool known = std::any_of(valid.begin(), valid.end(), [&](const std::string& v) {
    return v == key ||
           (v.size() > key.size() && v.compare(0, key.size(), key) == 0 && v[key.size()] == '.');
  });
  if (!known) return UnknownKey(key, "override", valid);
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("override '", text, "': ", e.what()));
  }
  // Build {a: {b: value}} and merge it, so overrides obey the same key rules as files.
  YAML::Node nested = value;
  std::vector<std::string> parts = absl::StrSplit(key, '.');
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    YAML::Node wrap(YAML::NodeType::Map);
    wrap[*it] = nested;
    nested = wrap;
  }
  return MergeInto(root, nested, "", "override", valid);
}

YAML::Node Lookup(const YAML::Node& node, const std::vector<std::string>& parts, size_t i) {
  if (i == parts.size()) return node;
  return Lookup(node[parts[i]], parts, i + 1);
}

}  // namespace

std::vector<std::string> LeafKeys(const YAML::Node& node) {
  std::vector<std::string> keys;
  CollectKeys(node, "", keys);
  std::sort(keys.begin(), keys.end());
  return keys;
}

absl::StatusOr<YAML::Node> LoadLayeredYaml(const char* defaults_yaml, const std::string& path,
                                           const std::vector<std::string>& overrides) {
  YAML::Node root = YAML::Load(defaults_yaml);
  const std::vector<std::string> valid = LeafKeys(root);
  if (!path.empty()) {
    YAML::Node file;
    try {
      file = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot read config file"));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
    }
    if (!file.IsNull()) ARG_RETURN_IF_ERROR(MergeInto(root, file, "", path, valid));
  }
  for (const std::string& o : overrides) ARG_RETURN_IF_ERROR(ApplyOverride(root, o, valid));
  return root;
}

YAML::Node LookupKey(const YAML::Node& root, const std::string& key) {
  const std::vector<std::string> parts = absl::StrSplit(key, '.');
  return Lookup(root, parts, 0);
}

std::string FlowText(const YAML::Node& node) {
  YAML::Emitter e;
  e << YAML::Flow << node;
  return e.c_str();
}

absl::Status Require(bool ok, const std::string& message) {
  return ok ? absl::OkStatus() : absl::InvalidArgumentError(message);
}

}  // namespace arginator
