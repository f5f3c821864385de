#include "trainer/config.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace arginator::trainer {
namespace {

constexpr char kDefaults[] = R"yaml(
task: binary                # binary | multiclass
data:
  dir: data/synthetic
  cache_dir: ""             # "" = <data.dir>/.arginator-cache
  classes:                  # class -> file name or glob inside data.dir
    class_A: card_class_a_embeddings.h5
    class_B: card_class_b_embeddings.h5
    class_C: card_class_c_embeddings.h5
    class_D: card_class_d_embeddings.h5
    non_betalactamase: non_betalactamase_embeddings*.h5
  split:
    train: 0.7
    val: 0.15
    test: 0.15
    seed: 42
  balanced_sampling: true
model:
  kind: ffnn                # ffnn | logreg
  hidden: [256, 128]
  dropout: 0.2
experiment:
  epochs: 5
  batch_size: 32
  optimizer: adam           # adam | sgd (momentum, Nesterov)
  lr: 0.001
  weight_decay: 0.0001
  momentum: 0.9
  patience: 3
  min_delta: 0.0
  seed: 42
  threads: 1                # measured 3-4x faster than 2 on 2 cores (docs/training.md)
  device: cpu
output:
  repository: models
  name: ""                  # "" = betalactamase-binary / betalactamase-class by task
  report_dir: reports
  publish: true
  golden_examples: 8
sweep:
  trials: 8
  time_budget_s: 0
  seed: 7
  lr_min: 0.0001
  lr_max: 0.01
  batch_sizes: [16, 32, 64, 128]
  dropout_min: 0.0
  dropout_max: 0.5
  hidden_options: [[128], [256, 128], [512, 128], [512, 256, 128]]
  epochs_min: 3
  epochs_max: 10
)yaml";

// Keys whose values are lists or free-form; the rest are scalars.
void CollectKeys(const YAML::Node& node, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& kv : node) {
    std::string key = prefix.empty() ? kv.first.as<std::string>()
                                     : absl::StrCat(prefix, ".", kv.first.as<std::string>());
    if (kv.second.IsMap()) {
      CollectKeys(kv.second, key, out);
    } else {
      out.push_back(key);
    }
  }
}

absl::Status UnknownKey(const std::string& key, const std::string& source) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": unknown config key '", key,
                   "'; valid keys: ", absl::StrJoin(ValidConfigKeys(), ", ")));
}

// Merges `src` into `dst` (a clone of the defaults); only keys present in the defaults are allowed.
absl::Status MergeInto(YAML::Node dst, const YAML::Node& src, const std::string& prefix,
                       const std::string& source) {
  if (!src.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a mapping at '", prefix.empty() ? "<root>" : prefix, "'"));
  }
  for (const auto& kv : src) {
    std::string name = kv.first.as<std::string>();
    std::string key = prefix.empty() ? name : absl::StrCat(prefix, ".", name);
    if (!dst[name]) return UnknownKey(key, source);
    YAML::Node slot = dst[name];
    if (slot.IsMap()) {
      ARG_RETURN_IF_ERROR(MergeInto(slot, kv.second, key, source));
    } else if (kv.second.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": '", key, "' takes a value, not a mapping"));
    } else {
      dst[name] = YAML::Clone(kv.second);
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyOverride(YAML::Node root, const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("override '", text, "' is not of the form key=value"));
  }
  std::string key = text.substr(0, eq);
  const std::vector<std::string> valid = ValidConfigKeys();
  bool known = std::any_of(valid.begin(), valid.end(), [&](const std::string& v) {
    return v == key ||
           (v.size() > key.size() && v.compare(0, key.size(), key) == 0 && v[key.size()] == '.');
  });
  if (!known) return UnknownKey(key, "override");
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
  return MergeInto(root, nested, "", "override");
}

YAML::Node Lookup(const YAML::Node& node, const std::vector<std::string>& parts, size_t i = 0) {
  if (i == parts.size()) return node;
  return Lookup(node[parts[i]], parts, i + 1);
}

template <typename T>
absl::Status Read(const YAML::Node& root, const std::string& key, T& out) {
  const std::vector<std::string> parts = absl::StrSplit(key, '.');
  const YAML::Node node = Lookup(root, parts);
  try {
    out = node.as<T>();
  } catch (const YAML::Exception&) {
    YAML::Emitter e;
    e << YAML::Flow << node;
    return absl::InvalidArgumentError(
        absl::StrCat("config key '", key, "' has an invalid value: ", e.c_str()));
  }
  return absl::OkStatus();
}

absl::Status Check(bool ok, const std::string& message) {
  return ok ? absl::OkStatus() : absl::InvalidArgumentError(message);
}

}  // namespace

const char* DefaultConfigYaml() { return kDefaults; }

std::vector<std::string> ValidConfigKeys() {
  std::vector<std::string> keys;
  CollectKeys(YAML::Load(kDefaults), "", keys);
  std::sort(keys.begin(), keys.end());
  return keys;
}

const std::vector<std::string>& ClassNames() {
  static const std::vector<std::string> kNames = {"class_A", "class_B", "class_C", "class_D",
                                                  "non_betalactamase"};
  return kNames;
}

std::vector<std::string> LabelsForTask(const std::string& task) {
  if (task == "binary") return {"non_betalactamase", "betalactamase"};
  return ClassNames();
}

absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path,
                                            const std::vector<std::string>& overrides) {
  YAML::Node root = YAML::Load(kDefaults);
  if (!path.empty()) {
    YAML::Node file;
    try {
      file = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot read config file"));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
    }
    if (!file.IsNull()) ARG_RETURN_IF_ERROR(MergeInto(root, file, "", path));
  }
  for (const std::string& o : overrides) ARG_RETURN_IF_ERROR(ApplyOverride(root, o));
  return TrainConfigFromYaml(root);
}

absl::StatusOr<TrainConfig> TrainConfigFromYaml(const YAML::Node& root) {
  TrainConfig c;
  c.resolved = YAML::Clone(root);
  ARG_RETURN_IF_ERROR(Read(root, "task", c.task));
  ARG_RETURN_IF_ERROR(Read(root, "data.dir", c.data.dir));
  ARG_RETURN_IF_ERROR(Read(root, "data.cache_dir", c.data.cache_dir));
  ARG_RETURN_IF_ERROR(Read(root, "data.classes", c.data.class_files));
  ARG_RETURN_IF_ERROR(Read(root, "data.split.train", c.data.train_fraction));
  ARG_RETURN_IF_ERROR(Read(root, "data.split.val", c.data.val_fraction));
  ARG_RETURN_IF_ERROR(Read(root, "data.split.test", c.data.test_fraction));
  ARG_RETURN_IF_ERROR(Read(root, "data.split.seed", c.data.split_seed));
  ARG_RETURN_IF_ERROR(Read(root, "data.balanced_sampling", c.data.balanced_sampling));
  ARG_RETURN_IF_ERROR(Read(root, "model.kind", c.model.kind));
  ARG_RETURN_IF_ERROR(Read(root, "model.hidden", c.model.hidden));
  ARG_RETURN_IF_ERROR(Read(root, "model.dropout", c.model.dropout));
  auto& e = c.experiment;
  ARG_RETURN_IF_ERROR(Read(root, "experiment.epochs", e.epochs));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.batch_size", e.batch_size));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.optimizer", e.optimizer));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.lr", e.lr));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.weight_decay", e.weight_decay));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.momentum", e.momentum));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.patience", e.patience));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.min_delta", e.min_delta));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.seed", e.seed));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.threads", e.threads));
  ARG_RETURN_IF_ERROR(Read(root, "experiment.device", e.device));
  ARG_RETURN_IF_ERROR(Read(root, "output.repository", c.output.repository));
  ARG_RETURN_IF_ERROR(Read(root, "output.name", c.output.name));
  ARG_RETURN_IF_ERROR(Read(root, "output.report_dir", c.output.report_dir));
  ARG_RETURN_IF_ERROR(Read(root, "output.publish", c.output.publish));
  ARG_RETURN_IF_ERROR(Read(root, "output.golden_examples", c.output.golden_examples));
  auto& s = c.sweep;
  ARG_RETURN_IF_ERROR(Read(root, "sweep.trials", s.trials));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.time_budget_s", s.time_budget_s));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.seed", s.seed));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.lr_min", s.lr_min));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.lr_max", s.lr_max));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.batch_sizes", s.batch_sizes));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.dropout_min", s.dropout_min));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.dropout_max", s.dropout_max));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.hidden_options", s.hidden_options));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.epochs_min", s.epochs_min));
  ARG_RETURN_IF_ERROR(Read(root, "sweep.epochs_max", s.epochs_max));

  ARG_RETURN_IF_ERROR(Check(c.task == "binary" || c.task == "multiclass",
                            absl::StrCat("task must be binary or multiclass, got '", c.task, "'")));
  for (const auto& [cls, pattern] : c.data.class_files) {
    ARG_RETURN_IF_ERROR(Check(!pattern.empty(), absl::StrCat("data.classes.", cls, " is empty")));
  }
  double total = c.data.train_fraction + c.data.val_fraction + c.data.test_fraction;
  ARG_RETURN_IF_ERROR(
      Check(c.data.train_fraction > 0 && c.data.val_fraction > 0 && c.data.test_fraction > 0 &&
                std::abs(total - 1.0) < 1e-6,
            absl::StrCat("data.split fractions must be positive and sum to 1, got ", total)));
  ARG_RETURN_IF_ERROR(
      Check(c.model.kind == "ffnn" || c.model.kind == "logreg",
            absl::StrCat("model.kind must be ffnn or logreg, got '", c.model.kind, "'")));
  for (int h : c.model.hidden) {
    ARG_RETURN_IF_ERROR(
        Check(h > 0, absl::StrCat("model.hidden widths must be positive, got ", h)));
  }
  ARG_RETURN_IF_ERROR(
      Check(c.model.dropout >= 0 && c.model.dropout < 1,
            absl::StrCat("model.dropout must be in [0, 1), got ", c.model.dropout)));
  ARG_RETURN_IF_ERROR(
      Check(e.epochs > 0, absl::StrCat("experiment.epochs must be > 0, got ", e.epochs)));
  ARG_RETURN_IF_ERROR(Check(e.batch_size > 0,
                            absl::StrCat("experiment.batch_size must be > 0, got ", e.batch_size)));
  ARG_RETURN_IF_ERROR(Check(e.lr > 0, absl::StrCat("experiment.lr must be > 0, got ", e.lr)));
  ARG_RETURN_IF_ERROR(
      Check(e.optimizer == "adam" || e.optimizer == "sgd",
            absl::StrCat("experiment.optimizer must be adam or sgd, got '", e.optimizer, "'")));
  ARG_RETURN_IF_ERROR(Check(e.patience > 0, "experiment.patience must be > 0"));
  ARG_RETURN_IF_ERROR(Check(e.threads >= 0, "experiment.threads must be >= 0"));
  ARG_RETURN_IF_ERROR(Check(c.output.golden_examples >= 1, "output.golden_examples must be >= 1"));
  ARG_RETURN_IF_ERROR(Check(s.trials > 0, "sweep.trials must be > 0"));
  ARG_RETURN_IF_ERROR(
      Check(s.lr_min > 0 && s.lr_min <= s.lr_max, "sweep.lr_min must be > 0 and <= sweep.lr_max"));
  ARG_RETURN_IF_ERROR(Check(!s.batch_sizes.empty() && !s.hidden_options.empty(),
                            "sweep.batch_sizes and sweep.hidden_options must not be empty"));
  ARG_RETURN_IF_ERROR(Check(s.epochs_min > 0 && s.epochs_min <= s.epochs_max,
                            "sweep.epochs_min must be > 0 and <= sweep.epochs_max"));
  if (c.output.name.empty()) {
    c.output.name = c.task == "binary" ? "betalactamase-binary" : "betalactamase-class";
    c.resolved["output"]["name"] = c.output.name;
  }
  return c;
}

}  // namespace arginator::trainer
