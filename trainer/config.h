#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace arginator::trainer {

// The resolved training configuration. Every field has a default (see kDefaultConfigYaml in
// config.cc, which is the single source of defaults and of the set of valid keys).
struct TrainConfig {
  std::string task;  // "binary" | "multiclass"

  struct Data {
    std::string dir;                                 // directory holding the class files
    std::string cache_dir;                           // processed cache; "" = <dir>/.arginator-cache
    std::map<std::string, std::string> class_files;  // class name -> file name or glob
    std::string labels;                              // a labels table instead (labels_table.h)
    std::vector<std::string> embeddings;             // the files its ids are in
    std::vector<std::string> label_set;              // classes in output order; [] = sorted
    std::string label_errors;                        // "error" | "warn"
    bool pool_residues;                              // mean-pool per-residue [L, dim] arrays
    std::string id_map, fasta;                       // rename ids (common/id_map.h); "" = none
    double train_fraction, val_fraction, test_fraction;
    uint64_t split_seed;
    std::string split_by;     // "protein" | "group" (the labels table's) | "similarity"
    double split_similarity;  // split.by=similarity: cosine at or above which proteins group
    bool balanced_sampling;   // class-balanced weighted sampling of training batches
  } data;

  struct Model {
    std::string kind;  // "ffnn" | "logreg"
    std::vector<int> hidden;
    double dropout;
  } model;

  struct Experiment {
    int epochs, batch_size;
    std::string optimizer;  // "adam" | "sgd" (momentum, Nesterov)
    double lr, weight_decay, momentum;
    int patience;  // epochs without validation-loss improvement before stopping
    double min_delta;
    uint64_t seed;
    int threads;         // LibTorch intra-op threads; 0 = one per core
    std::string device;  // "cpu" | "cuda" | "cuda:N"
  } experiment;

  struct Output {
    std::string repository, name, report_dir;
    bool publish;
    int golden_examples;
  } output;

  struct Publish {
    double min_macro_f1;                         // test macro F1 below this is not published
    std::map<std::string, double> min_class_f1;  // label -> minimum test F1
    double tolerance;   // how much worse (test macro F1) than the serving version it may be
    std::string label;  // version label set on the new version; "" = none
  } publish;

  struct Decision {  // how answers become calls (model.json "decision", common/decision_policy.h)
    std::string calibration;  // "temperature" | "none"
    std::string objective;    // "precision" | "f1"
    double target_precision, high_confidence, ood_quantile;
    int ood_components;
  } decision;

  struct Card {  // what a reviewer needs beyond the figures (docs/model-json.md)
    std::string embedder, pooling, label_source, intended_use, limitations;
    int bootstrap_resamples;
  } card;

  struct Sweep {
    int trials;
    double time_budget_s;  // 0 = no budget
    uint64_t seed;
    double lr_min, lr_max;
    std::vector<int> batch_sizes;
    double dropout_min, dropout_max;
    std::vector<std::vector<int>> hidden_options;
    int epochs_min, epochs_max;
  } sweep;

  YAML::Node resolved;  // the merged configuration, saved beside the model
};

// The built-in defaults, as YAML.
const char* DefaultConfigYaml();

// Every valid dotted key ("experiment.lr", ...), sorted.
std::vector<std::string> ValidConfigKeys();

// Loads defaults, merges `path` (may be empty), then applies `overrides` ("a.b=value", the value
// parsed as YAML). An unknown key is INVALID_ARGUMENT listing the valid keys; a wrongly typed or
// out-of-range value names the key and the value.
absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path,
                                            const std::vector<std::string>& overrides);

// Resolves a node (defaults merged with the file and overrides) into the typed struct.
absl::StatusOr<TrainConfig> TrainConfigFromYaml(const YAML::Node& resolved);

// The output labels for a task, in model output order.
std::vector<std::string> LabelsForTask(const std::string& task);

// Class names, in the fixed order used for class indices.
const std::vector<std::string>& ClassNames();

}  // namespace arginator::trainer
