// arginator-train: gen-data, fit, sweep, eval, compress. Wiring only; the work is in
// trainer/pipeline.h.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/allocator.h"
#include "trainer/compress.h"
#include "trainer/config.h"
#include "trainer/pipeline.h"
#include "trainer/synthetic.h"

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "arginator-train: error: " << status.message() << std::endl;
  // 2: the input is bad (a config, a data file, a labels table), as the README documents.
  const absl::StatusCode code = status.code();
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace arginator::trainer;
  arginator::TuneAllocatorForTensors();
  CLI::App app{"arginator-train: train, evaluate and publish beta-lactamase classifiers"};
  app.require_subcommand(1);

  SyntheticOptions gen;
  std::string gen_out;
  auto* gen_cmd = app.add_subcommand(
      "gen-data", "write a synthetic data set in the seed project's HDF5 layout (NOT real data)");
  gen_cmd->add_option("--out", gen_out, "output directory")->required();
  gen_cmd->add_option("--scale", gen.scale, "size relative to the real data (1 = ~67k proteins)")
      ->check(CLI::PositiveNumber);
  gen_cmd->add_option("--seed", gen.seed, "random seed of the synthetic world (class centroids)");
  std::string layout = "seed";
  gen_cmd
      ->add_option("--layout", layout,
                   "seed: one HDF5 file per class; bio_embeddings: a bio_embeddings output "
                   "directory with a FASTA and a labels table (docs/training.md)")
      ->check(CLI::IsMember({"seed", "bio_embeddings"}))
      ->capture_default_str();
  gen_cmd->add_option("--sample-seed", gen.sample_seed,
                      "draw new proteins from --seed's world (a held-out sample); 0 = --seed");

  std::string config_path;
  std::vector<std::string> overrides;
  bool check_config = false;
  std::string publish_label;
  auto* fit_cmd = app.add_subcommand("fit", "train one model and publish it");
  auto* sweep_cmd =
      app.add_subcommand("sweep", "random hyperparameter search; publishes the best trial");
  for (auto* cmd : {fit_cmd, sweep_cmd}) {
    cmd->add_option("--config", config_path, "YAML config (configs/train/*.yaml)")->required();
    cmd->add_option("overrides", overrides,
                    "dotted key=value overrides, e.g. experiment.epochs=10");
    cmd->add_flag("--check-config", check_config,
                  "parse the config and overrides and exit (0 = valid): a dry run of a Job's args");
    cmd->add_option("--publish-label", publish_label,
                    "set this version label (e.g. canary) on the new version, and pin 'stable' to "
                    "the version served so far (publish.label)");
  }
  bool print_keys = false;
  auto* keys_cmd = app.add_subcommand("config-keys", "list every valid config key and defaults");
  keys_cmd->add_flag("--defaults", print_keys, "print the default YAML instead of the key list");

  std::string model_dir, data_dir, report_dir, predictions;
  auto* eval_cmd = app.add_subcommand("eval", "evaluate a published model on a data directory");
  eval_cmd->add_option("--model", model_dir, "published version directory, e.g. models/NAME/3")
      ->required();
  eval_cmd
      ->add_option("--data", data_dir,
                   "directory laid out as the model's training data (its card's data config)")
      ->required();
  eval_cmd->add_option("--report", report_dir,
                       "write metrics.json, charts and predictions.csv here");
  eval_cmd->add_option("--predictions", predictions,
                       "write per-protein predictions (id, truth, call, probabilities) as CSV");
  eval_cmd->add_option("--config", config_path,
                       "a data config to use instead of the one the model's card records");
  eval_cmd->add_option("overrides", overrides,
                       "dotted key=value overrides, e.g. data.classes.X=f.h5");

  CompressOptions compress;
  auto* compress_cmd = app.add_subcommand(
      "compress", "publish an int8 or pruned version of a published model, if it keeps its F1");
  compress_cmd->add_option("--model", compress.model_dir, "published version, e.g. models/NAME/1")
      ->required();
  compress_cmd->add_option("--method", compress.method, "int8 or prune")
      ->required()
      ->check(CLI::IsMember({"int8", "prune"}));
  compress_cmd->add_option("--engine", compress.engine, "int8: the quantized engine")
      ->capture_default_str();
  compress_cmd
      ->add_option("--prune.fraction", compress.prune_fraction,
                   "prune: share of every hidden layer's units removed")
      ->capture_default_str();
  compress_cmd
      ->add_option("--prune.finetune_epochs", compress.finetune_epochs,
                   "prune: fine-tuning epochs after the cut")
      ->capture_default_str();
  compress_cmd
      ->add_option("--tolerance", compress.tolerance, "largest test macro-F1 drop that may publish")
      ->capture_default_str();
  compress_cmd->add_option("overrides", compress.overrides,
                           "dotted key=value overrides of the parent's config, e.g. data.dir=...");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (gen_cmd->parsed()) {
    auto paths = layout == "seed" ? WriteSyntheticDataset(gen_out, gen)
                                  : WriteSyntheticBioEmbeddings(gen_out, gen);
    if (!paths.ok()) return Fail(paths.status());
    std::cout << "Wrote SYNTHETIC embeddings (seed " << gen.seed << ", scale " << gen.scale
              << "):\n";
    for (const auto& [cls, path] : *paths) std::cout << "  " << cls << "  " << path << "\n";
    return 0;
  }
  if (keys_cmd->parsed()) {
    if (print_keys) {
      std::cout << DefaultConfigYaml();
    } else {
      for (const auto& k : ValidConfigKeys()) std::cout << k << "\n";
    }
    return 0;
  }
  if (compress_cmd->parsed()) {
    auto outcome = RunCompress(compress, std::cout);
    return outcome.ok() ? 0 : Fail(outcome.status());
  }
  if (eval_cmd->parsed()) {
    auto m =
        RunEval({model_dir, data_dir, config_path, report_dir, predictions, overrides}, std::cout);
    return m.ok() ? 0 : Fail(m.status());
  }
  if (!publish_label.empty()) overrides.push_back("publish.label=" + publish_label);
  auto config = LoadTrainConfig(config_path, overrides);
  if (!config.ok()) return Fail(config.status());
  if (check_config) {
    // The files too: a config whose class files are missing is not ok.
    if (absl::Status files = CheckDataFiles(DatasetOptionsFor(*config)); !files.ok()) {
      return Fail(files);
    }
    std::cout << "config ok: " << config_path << " with " << overrides.size()
              << " override(s); its data files exist\n";
    return 0;
  }
  auto outcome = fit_cmd->parsed() ? RunFit(*config, std::cout) : RunSweep(*config, std::cout);
  return outcome.ok() ? 0 : Fail(outcome.status());
}
