#include "trainer/config.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/layered_yaml.h"
#include "common/status_macros.h"

namespace arginator::trainer {
namespace {

constexpr char kDefaults[] = R"yaml(
task: binary                # binary | multiclass
data:
  dir: data/synthetic
  cache_dir: ""             # "" = <data.dir>/.arginator-cache
  classes:                  # class -> file name or glob inside data.dir; "" leaves a class out
    class_A: card_class_a_embeddings.h5
    class_B: card_class_b_embeddings.h5
    class_C: card_class_c_embeddings.h5
    class_D: card_class_d_embeddings.h5
    non_betalactamase: non_betalactamase_embeddings*.h5
  labels: ""                # or a labels table (columns id, label[, group]; TSV, or CSV if .csv)
  embeddings: []            # with data.labels: the embedding files (or globs) its ids are in
  label_set: []             # the classes in output order; [] = the labels found, sorted
  label_errors: error       # error | warn: labelled ids in no file, proteins without a label,
                            # ids labelled twice; warn leaves them out and counts them
  pool_residues: true       # per-residue [L, 1024] arrays are mean-pooled (ProtT5's pooling)
  id_map: ""                # two-column table (key, id) renaming the files' ids
  fasta: ""                 # or the FASTA the embeddings came from: recovers its ids from
                            # bio_embeddings' md5 keys or ProtTrans' mangled headers
  split:
    train: 0.7
    val: 0.15
    test: 0.15
    seed: 42
    by: protein             # protein (random, stratified by class) | group: whole groups of the
                            # labels table's `group` column (CD-HIT/MMseqs2 clusters, families)
                            # | similarity: whole clusters of near-identical embeddings
    similarity: 0.95        # split.by=similarity: proteins at cosine >= this are one cluster
  balanced_sampling: true
model:
  kind: ffnn                # ffnn | logreg
  hidden: [256, 128]
  dropout: 0.2
experiment:
  epochs: 30                # sized for lab data sets (~1k proteins): on 820, 5 epochs with
                            # patience 3 stopped at macro F1 0.54, 30 with patience 5 reached 0.90;
                            # early stopping ends large sets sooner (configs/train/*.yaml use 5)
  batch_size: 32
  optimizer: adam           # adam | sgd (momentum, Nesterov)
  lr: 0.001
  weight_decay: 0.0001
  momentum: 0.9
  patience: 5               # epochs without validation-loss improvement; small sets are noisy
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
publish:                    # the gate fit and sweep apply before publishing (docs/training.md)
  min_macro_f1: 0.5         # refuses e.g. a model calling everything the majority class
  min_class_f1: {}          # per-label minimum test F1, e.g. {class_B: 0.6}
  tolerance: 0.02           # refused when worse than the served version (stable, else newest)
                            # by more than this test macro F1, on the candidate's test split
  label: ""                 # e.g. canary: labels the new version and pins stable to the old one
decision:                   # how the server turns probabilities into a call (docs/model-json.md)
  calibration: temperature  # temperature | none: temperature scaling, fitted on validation
  objective: precision      # precision: each label's lowest threshold whose validation precision
                            # reaches target_precision | f1: each label's best-F1 threshold
  target_precision: 0.95
  high_confidence: 0.9      # a call at or above this calibrated probability is High, else Medium
  ood_components: 64        # principal components of the out-of-distribution density detector
  ood_quantile: 0.99        # the share of validation proteins under its cut-off
card:                       # model.json fields for a reviewer (docs/model-json.md)
  embedder: ProtT5-XL-U50 (Rostlab/prot_t5_xl_half_uniref50-enc)  # made the embeddings
  pooling: mean over residues  # how per-protein embeddings were made
  label_source: ""          # where the labels come from, e.g. "CARD 3.2.9 beta-lactamases"
  intended_use: "Screening protein sequences for beta-lactamases and their Ambler class from ProtT5 embeddings, as evidence beside homology tools (RGI, AMRFinderPlus); not a clinical diagnostic."
  limitations: "Trained on the labelled proteins listed in split.tsv; proteins far from all of them (see the card's nearest train-test similarity and the server's out-of-distribution flag) are outside what the test figures describe."
  bootstrap_resamples: 1000 # test-set resamples for each metric's 95% interval
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

}  // namespace

const char* DefaultConfigYaml() { return kDefaults; }

std::vector<std::string> ValidConfigKeys() { return LeafKeys(YAML::Load(kDefaults)); }

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
  ARG_ASSIGN_OR_RETURN(YAML::Node root, LoadLayeredYaml(kDefaults, path, overrides));
  return TrainConfigFromYaml(root);
}

absl::StatusOr<TrainConfig> TrainConfigFromYaml(const YAML::Node& root) {
  TrainConfig c;
  c.resolved = YAML::Clone(root);
  ARG_RETURN_IF_ERROR(ReadKey(root, "task", c.task));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.dir", c.data.dir));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.cache_dir", c.data.cache_dir));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.classes", c.data.class_files));
  for (auto& [cls, file] : c.data.class_files) {  // `data.classes.class_B=` is YAML null
    if (root["data"]["classes"][cls].IsNull()) file.clear();
  }
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.labels", c.data.labels));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.embeddings", c.data.embeddings));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.label_set", c.data.label_set));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.label_errors", c.data.label_errors));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.pool_residues", c.data.pool_residues));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.id_map", c.data.id_map));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.fasta", c.data.fasta));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.split.train", c.data.train_fraction));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.split.val", c.data.val_fraction));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.split.test", c.data.test_fraction));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.split.seed", c.data.split_seed));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.split.by", c.data.split_by));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.split.similarity", c.data.split_similarity));
  ARG_RETURN_IF_ERROR(ReadKey(root, "data.balanced_sampling", c.data.balanced_sampling));
  ARG_RETURN_IF_ERROR(ReadKey(root, "model.kind", c.model.kind));
  ARG_RETURN_IF_ERROR(ReadKey(root, "model.hidden", c.model.hidden));
  ARG_RETURN_IF_ERROR(ReadKey(root, "model.dropout", c.model.dropout));
  auto& e = c.experiment;
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.epochs", e.epochs));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.batch_size", e.batch_size));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.optimizer", e.optimizer));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.lr", e.lr));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.weight_decay", e.weight_decay));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.momentum", e.momentum));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.patience", e.patience));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.min_delta", e.min_delta));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.seed", e.seed));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.threads", e.threads));
  ARG_RETURN_IF_ERROR(ReadKey(root, "experiment.device", e.device));
  ARG_RETURN_IF_ERROR(ReadKey(root, "output.repository", c.output.repository));
  ARG_RETURN_IF_ERROR(ReadKey(root, "output.name", c.output.name));
  ARG_RETURN_IF_ERROR(ReadKey(root, "output.report_dir", c.output.report_dir));
  ARG_RETURN_IF_ERROR(ReadKey(root, "output.publish", c.output.publish));
  ARG_RETURN_IF_ERROR(ReadKey(root, "output.golden_examples", c.output.golden_examples));
  ARG_RETURN_IF_ERROR(ReadKey(root, "publish.min_macro_f1", c.publish.min_macro_f1));
  ARG_RETURN_IF_ERROR(ReadKey(root, "publish.min_class_f1", c.publish.min_class_f1));
  ARG_RETURN_IF_ERROR(ReadKey(root, "publish.tolerance", c.publish.tolerance));
  ARG_RETURN_IF_ERROR(ReadKey(root, "publish.label", c.publish.label));
  auto& dc = c.decision;
  ARG_RETURN_IF_ERROR(ReadKey(root, "decision.calibration", dc.calibration));
  ARG_RETURN_IF_ERROR(ReadKey(root, "decision.objective", dc.objective));
  ARG_RETURN_IF_ERROR(ReadKey(root, "decision.target_precision", dc.target_precision));
  ARG_RETURN_IF_ERROR(ReadKey(root, "decision.high_confidence", dc.high_confidence));
  ARG_RETURN_IF_ERROR(ReadKey(root, "decision.ood_components", dc.ood_components));
  ARG_RETURN_IF_ERROR(ReadKey(root, "decision.ood_quantile", dc.ood_quantile));
  ARG_RETURN_IF_ERROR(
      Require(dc.calibration == "temperature" || dc.calibration == "none",
              absl::StrCat("decision.calibration must be temperature or none, got '",
                           dc.calibration, "'")));
  ARG_RETURN_IF_ERROR(Require(
      dc.objective == "precision" || dc.objective == "f1",
      absl::StrCat("decision.objective must be precision or f1, got '", dc.objective, "'")));
  ARG_RETURN_IF_ERROR(Require(dc.target_precision > 0 && dc.target_precision <= 1 &&
                                  dc.high_confidence >= 0 && dc.high_confidence <= 1,
                              "decision.target_precision must be in (0, 1] and "
                              "decision.high_confidence in [0, 1]"));
  ARG_RETURN_IF_ERROR(Require(dc.ood_components >= 1 && dc.ood_components <= 1024 &&
                                  dc.ood_quantile > 0 && dc.ood_quantile <= 1,
                              "decision.ood_components must be in [1, 1024] and "
                              "decision.ood_quantile in (0, 1]"));
  ARG_RETURN_IF_ERROR(ReadKey(root, "card.embedder", c.card.embedder));
  ARG_RETURN_IF_ERROR(ReadKey(root, "card.pooling", c.card.pooling));
  ARG_RETURN_IF_ERROR(ReadKey(root, "card.label_source", c.card.label_source));
  ARG_RETURN_IF_ERROR(ReadKey(root, "card.intended_use", c.card.intended_use));
  ARG_RETURN_IF_ERROR(ReadKey(root, "card.limitations", c.card.limitations));
  ARG_RETURN_IF_ERROR(ReadKey(root, "card.bootstrap_resamples", c.card.bootstrap_resamples));
  ARG_RETURN_IF_ERROR(
      Require(c.card.bootstrap_resamples >= 0 && c.card.bootstrap_resamples <= 100000,
              "card.bootstrap_resamples must be in [0, 100000]"));
  auto& s = c.sweep;
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.trials", s.trials));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.time_budget_s", s.time_budget_s));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.seed", s.seed));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.lr_min", s.lr_min));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.lr_max", s.lr_max));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.batch_sizes", s.batch_sizes));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.dropout_min", s.dropout_min));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.dropout_max", s.dropout_max));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.hidden_options", s.hidden_options));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.epochs_min", s.epochs_min));
  ARG_RETURN_IF_ERROR(ReadKey(root, "sweep.epochs_max", s.epochs_max));

  ARG_RETURN_IF_ERROR(
      Require(c.task == "binary" || c.task == "multiclass",
              absl::StrCat("task must be binary or multiclass, got '", c.task, "'")));
  ARG_RETURN_IF_ERROR(Require(
      c.data.split_by == "protein" || c.data.split_by == "group" || c.data.split_by == "similarity",
      absl::StrCat("data.split.by must be protein, group or similarity, "
                   "got '",
                   c.data.split_by, "'")));
  ARG_RETURN_IF_ERROR(Require(c.data.split_similarity > 0 && c.data.split_similarity <= 1,
                              "data.split.similarity must be in (0, 1]"));
  ARG_RETURN_IF_ERROR(Require(
      c.data.label_errors == "error" || c.data.label_errors == "warn",
      absl::StrCat("data.label_errors must be error or warn, got '", c.data.label_errors, "'")));
  ARG_RETURN_IF_ERROR(Require(c.data.id_map.empty() || c.data.fasta.empty(),
                              "set data.id_map or data.fasta, not both"));
  double total = c.data.train_fraction + c.data.val_fraction + c.data.test_fraction;
  ARG_RETURN_IF_ERROR(
      Require(c.data.train_fraction > 0 && c.data.val_fraction > 0 && c.data.test_fraction > 0 &&
                  std::abs(total - 1.0) < 1e-6,
              absl::StrCat("data.split fractions must be positive and sum to 1, got ", total)));
  ARG_RETURN_IF_ERROR(
      Require(c.model.kind == "ffnn" || c.model.kind == "logreg",
              absl::StrCat("model.kind must be ffnn or logreg, got '", c.model.kind, "'")));
  for (int h : c.model.hidden) {
    ARG_RETURN_IF_ERROR(
        Require(h > 0, absl::StrCat("model.hidden widths must be positive, got ", h)));
  }
  ARG_RETURN_IF_ERROR(
      Require(c.model.dropout >= 0 && c.model.dropout < 1,
              absl::StrCat("model.dropout must be in [0, 1), got ", c.model.dropout)));
  ARG_RETURN_IF_ERROR(
      Require(e.epochs > 0, absl::StrCat("experiment.epochs must be > 0, got ", e.epochs)));
  ARG_RETURN_IF_ERROR(Require(
      e.batch_size > 0, absl::StrCat("experiment.batch_size must be > 0, got ", e.batch_size)));
  ARG_RETURN_IF_ERROR(Require(e.lr > 0, absl::StrCat("experiment.lr must be > 0, got ", e.lr)));
  ARG_RETURN_IF_ERROR(
      Require(e.optimizer == "adam" || e.optimizer == "sgd",
              absl::StrCat("experiment.optimizer must be adam or sgd, got '", e.optimizer, "'")));
  ARG_RETURN_IF_ERROR(Require(e.patience > 0, "experiment.patience must be > 0"));
  ARG_RETURN_IF_ERROR(Require(e.threads >= 0, "experiment.threads must be >= 0"));
  ARG_RETURN_IF_ERROR(
      Require(c.output.golden_examples >= 1, "output.golden_examples must be >= 1"));
  ARG_RETURN_IF_ERROR(Require(
      c.publish.min_macro_f1 >= 0 && c.publish.min_macro_f1 <= 1 && c.publish.tolerance >= 0,
      "publish.min_macro_f1 must be in [0, 1] and publish.tolerance >= 0"));
  ARG_RETURN_IF_ERROR(Require(c.publish.label.size() <= 256, "publish.label is over 256 bytes"));
  ARG_RETURN_IF_ERROR(Require(s.trials > 0, "sweep.trials must be > 0"));
  ARG_RETURN_IF_ERROR(Require(s.lr_min > 0 && s.lr_min <= s.lr_max,
                              "sweep.lr_min must be > 0 and <= sweep.lr_max"));
  ARG_RETURN_IF_ERROR(Require(!s.batch_sizes.empty() && !s.hidden_options.empty(),
                              "sweep.batch_sizes and sweep.hidden_options must not be empty"));
  ARG_RETURN_IF_ERROR(Require(s.epochs_min > 0 && s.epochs_min <= s.epochs_max,
                              "sweep.epochs_min must be > 0 and <= sweep.epochs_max"));
  if (c.output.name.empty()) {
    c.output.name = c.task == "binary" ? "betalactamase-binary" : "betalactamase-class";
    c.resolved["output"]["name"] = c.output.name;
  }
  return c;
}

}  // namespace arginator::trainer
