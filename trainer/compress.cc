#include "trainer/compress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_io.h"
#include "common/model_card.h"
#include "common/model_package.h"
#include "common/quantized_engines.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "trainer/config.h"
#include "trainer/decision_fit.h"
#include "trainer/export.h"
#include "trainer/model_package.h"
#include "trainer/pipeline.h"
#include "trainer/reference_index.h"
#include "trainer/split_record.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;

// Training rows the int8 activation ranges are calibrated on (in split order).
constexpr size_t kCalibrationRows = 16384;

// Every data file the parent recorded, with the same sha256, and no other.
absl::Status CheckSameData(const ModelCard& card, const Dataset& data) {
  std::vector<std::string> recorded, found;
  for (const auto& f : card.dataset.value("files", nlohmann::json::array())) {
    recorded.push_back(
        absl::StrCat(f.value("class", ""), " ", f.value("file", ""), " ", f.value("sha256", "")));
  }
  for (const auto& f : data.files) {
    found.push_back(
        absl::StrCat(f.class_name, " ", fs::path(f.path).filename().string(), " ", f.sha256));
  }
  std::sort(recorded.begin(), recorded.end());
  std::sort(found.begin(), found.end());
  if (recorded != found) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the data is not what ", card.name, " v", card.version, " was trained on: it recorded [",
        absl::StrJoin(recorded, "; "), "], the data directory has [", absl::StrJoin(found, "; "),
        "] (class, file, sha256); give its data with data.dir=..."));
  }
  return absl::OkStatus();
}

// The parent as a trainable classifier: the architecture from model.json, the weights from the
// TorchScript parameters wt<i> ([in, out]) and b<i> that ExportTorchScript writes.
absl::StatusOr<Classifier> ParentClassifier(const ModelCard& card, torch::jit::Module& module) {
  const nlohmann::json& a = card.architecture;
  ClassifierSpec spec;
  spec.kind = a.value("kind", "");
  const std::vector<int> widths = a.value("layers", std::vector<int>{});
  if ((spec.kind != "ffnn" && spec.kind != "logreg") || widths.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model.json's architecture (", a.dump(), ") is not an arginator-train ffnn or logreg"));
  }
  spec.input_dim = widths.front();
  spec.hidden.assign(widths.begin() + 1, widths.end() - 1);
  spec.num_classes = widths.back();
  spec.dropout = a.value("dropout", 0.0);
  Classifier model(spec);
  torch::NoGradGuard no_grad;
  const auto& layers = model->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string w = absl::StrCat("wt", i), b = absl::StrCat("b", i);
    if (!module.hasattr(w) || !module.hasattr(b)) {
      return absl::FailedPreconditionError(
          absl::StrCat("model.pt has no parameter '", w, "': not exported by arginator-train"));
    }
    const torch::Tensor wt = module.attr(w).toTensor(), bias = module.attr(b).toTensor();
    if (wt.dim() != 2 || wt.size(0) != layers[i]->weight.size(1) ||
        wt.size(1) != layers[i]->weight.size(0) || bias.numel() != layers[i]->bias.numel()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model.pt's layer ", i, " does not have the shape model.json's architecture gives"));
    }
    layers[i]->weight.copy_(wt.t());
    layers[i]->bias.copy_(bias);
  }
  model->eval();
  return model;
}

absl::StatusOr<ClassificationMetrics> EvaluateOn(torch::jit::Module& module, const PreparedData& p,
                                                 const std::vector<size_t>& rows,
                                                 const std::vector<std::string>& labels) {
  std::vector<int> truth;
  for (size_t r : rows) truth.push_back(p.labels[r]);
  ARG_ASSIGN_OR_RETURN(std::vector<float> probs, RunTorchScriptOnRows(module, p.data.x, rows));
  return Evaluate(truth, probs, labels);
}

nlohmann::json Difference(const ClassificationMetrics& after, const ClassificationMetrics& before) {
  return {{"macro_f1", MacroF1(after) - MacroF1(before)},
          {"accuracy", after.accuracy - before.accuracy},
          {"roc_auc", after.roc_auc - before.roc_auc},
          {"loss", after.loss - before.loss}};
}

}  // namespace

absl::StatusOr<Classifier> PruneHiddenUnits(Classifier& model, double fraction) {
  if (!(fraction > 0 && fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prune.fraction must be in (0, 1), got ", fraction));
  }
  ClassifierSpec spec = model->spec();
  if (spec.kind != "ffnn" || spec.hidden.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pruning removes hidden units; a '", spec.kind, "' model has none"));
  }
  torch::NoGradGuard no_grad;
  const auto& layers = model->layers();
  std::vector<torch::Tensor> weights, biases;
  for (const auto& layer : layers) {
    weights.push_back(layer->weight.detach().clone());
    biases.push_back(layer->bias.detach().clone());
  }
  for (size_t l = 0; l + 1 < weights.size(); ++l) {
    const int64_t units = weights[l].size(0);
    const int64_t keep = std::max<int64_t>(1, std::llround(units * (1 - fraction)));
    // Incoming: row j of W_l; outgoing: column j of W_{l+1} (already narrowed by layer l - 1).
    const torch::Tensor importance = weights[l].norm(2, {1}) * weights[l + 1].norm(2, {0});
    const torch::Tensor kept = std::get<0>(std::get<1>(importance.topk(keep)).sort());
    weights[l] = weights[l].index_select(0, kept);
    biases[l] = biases[l].index_select(0, kept);
    weights[l + 1] = weights[l + 1].index_select(1, kept);
    spec.hidden[l] = static_cast<int>(keep);
  }
  Classifier pruned(spec);
  for (size_t l = 0; l < weights.size(); ++l) {
    pruned->layers()[l]->weight.copy_(weights[l]);
    pruned->layers()[l]->bias.copy_(biases[l]);
  }
  pruned->eval();
  return pruned;
}

absl::StatusOr<CompressOutcome> RunCompress(const CompressOptions& o, std::ostream& log) {
  if (o.method != "int8" && o.method != "prune") {
    return absl::InvalidArgumentError(
        absl::StrCat("--method must be int8 or prune, got '", o.method, "'"));
  }
  if (o.finetune_epochs < 0 || !(o.tolerance >= 0)) {
    return absl::InvalidArgumentError("prune.finetune_epochs and --tolerance must be >= 0");
  }
  fs::path dir = fs::path(o.model_dir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  const std::string model_path = ModelFilePath(dir.string());
  ARG_ASSIGN_OR_RETURN(ModelCard parent, ReadVerifiedPackage(dir.string()));
  if (!QuantizedEngine(parent).empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        parent.name, " v", parent.version, " is already int8: compress its fp32 parent (v",
        parent.compression.value("parent", nlohmann::json::object()).value("version", 0), ")"));
  }
  if (dir.parent_path().filename() != parent.name) {
    return absl::InvalidArgumentError(absl::StrCat(o.model_dir, " is not <repository>/",
                                                   parent.name, "/<version> (model.json names '",
                                                   parent.name, "')"));
  }
  const std::string repository = dir.parent_path().parent_path().string();
  if (o.method == "int8") ARG_RETURN_IF_ERROR(SetQuantizedEngine(o.engine).status());

  ARG_ASSIGN_OR_RETURN(TrainConfig config, TrainingConfigOf(parent, dir.string(), o.overrides));
  ARG_ASSIGN_OR_RETURN(PreparedData p, PrepareData(config, log));
  ARG_RETURN_IF_ERROR(CheckSameData(parent, p.data));
  if (p.data.x.dim != parent.input_dim) {
    return absl::InvalidArgumentError(absl::StrCat("data has dimension ", p.data.x.dim,
                                                   ", the model expects ", parent.input_dim));
  }
  const std::vector<std::string> labels = parent.labels;

  ARG_ASSIGN_OR_RETURN(torch::jit::Module parent_module, LoadTorchScript(model_path));
  ARG_ASSIGN_OR_RETURN(Classifier model, ParentClassifier(parent, parent_module));
  CompressOutcome out;
  ARG_ASSIGN_OR_RETURN(out.parent_test, EvaluateOn(parent_module, p, p.split.test, labels));

  // The compressed module, as the bytes model.pt will hold.
  nlohmann::json settings, architecture = parent.architecture,
                           hyperparameters = parent.hyperparameters;
  Int8Calibration calibration;
  std::ostringstream bytes;
  if (o.method == "int8") {
    log << "Quantizing " << parent.name << " v" << parent.version << " to int8 (engine " << o.engine
        << ")\n";
    // Static activation ranges from the training split (up to kCalibrationRows of it, in split
    // order): a row's answer then never depends on its batch-mates.
    std::vector<size_t> calibration_rows = p.split.train;
    if (calibration_rows.size() > kCalibrationRows) calibration_rows.resize(kCalibrationRows);
    calibration = CalibrateActivations(model, GatherRows(p.data.x, calibration_rows));
    nlohmann::json ranges = nlohmann::json::array();
    for (const ActivationRange& r : calibration.ranges) ranges.push_back({r.lo, r.hi});
    log << "Calibrated int8 activation ranges on " << calibration.rows << " training rows (sha256 "
        << calibration.rows_sha256.substr(0, 12) << ")\n";
    ARG_ASSIGN_OR_RETURN(torch::jit::Module q,
                         ExportInt8TorchScript(model, o.engine, calibration.ranges));
    q.save(bytes);
    settings = {
        {"engine", o.engine},
        {"weights", "int8, symmetric per output channel"},
        {"activations", "uint8 (reduce_range) over static ranges calibrated on training rows"},
        {"activation_ranges", ranges}};
  } else {
    ARG_ASSIGN_OR_RETURN(Classifier pruned, PruneHiddenUnits(model, o.prune_fraction));
    log << "Pruned " << parent.name << " v" << parent.version << " hidden layers ["
        << absl::StrJoin(model->spec().hidden, ", ") << "] -> ["
        << absl::StrJoin(pruned->spec().hidden, ", ") << "] (fraction " << o.prune_fraction
        << "; importance = |incoming| x |outgoing| weights)\n";
    if (o.finetune_epochs > 0) {
      TrainConfig finetune = config;
      finetune.experiment.epochs = o.finetune_epochs;
      log << "Fine-tuning " << o.finetune_epochs << " epoch(s), lr " << finetune.experiment.lr
          << "\n";
      ARG_ASSIGN_OR_RETURN(
          TrainResult tuned,
          TrainClassifier(finetune, p.data.x, p.labels, p.scheme.labels, p.split, log, pruned));
      pruned = tuned.model;
    }
    ExportTorchScript(pruned).save(bytes);
    architecture = ArchitectureJson(pruned->spec());
    settings = {{"fraction", o.prune_fraction},
                {"criterion", "l2_in_out"},
                {"finetune_epochs", o.finetune_epochs},
                {"hidden_before", model->spec().hidden},
                {"hidden_after", pruned->spec().hidden}};
    hyperparameters["finetune"] = {{"epochs", o.finetune_epochs},
                                   {"lr", config.experiment.lr},
                                   {"optimizer", config.experiment.optimizer}};
  }
  const std::string model_bytes = bytes.str();
  std::istringstream in(model_bytes);
  torch::jit::Module compressed = torch::jit::load(in, torch::kCPU);  // the exact bytes served
  compressed.eval();
  ARG_ASSIGN_OR_RETURN(out.test, EvaluateOn(compressed, p, p.split.test, labels));
  ARG_ASSIGN_OR_RETURN(ClassificationMetrics val, EvaluateOn(compressed, p, p.split.val, labels));
  // Its own decision policy: compression moves the probabilities the thresholds were chosen on.
  ARG_ASSIGN_OR_RETURN(std::vector<float> val_probs,
                       RunTorchScriptOnRows(compressed, p.data.x, p.split.val));
  ARG_ASSIGN_OR_RETURN(std::vector<float> test_probs,
                       RunTorchScriptOnRows(compressed, p.data.x, p.split.test));
  ARG_ASSIGN_OR_RETURN(FittedDecision decision, FitDecision(config, p, val_probs, test_probs, log));
  out.size_before = static_cast<int64_t>(fs::file_size(model_path));
  out.size_after = static_cast<int64_t>(model_bytes.size());
  const double drop = MacroF1(out.parent_test) - MacroF1(out.test);
  log << absl::StrFormat(
      "Test macro F1: v%d %.4f, %s %.4f (drop %.4f, tolerance %.4f); model.pt %d -> %d bytes "
      "(%.2fx)\n",
      parent.version, MacroF1(out.parent_test), o.method, MacroF1(out.test), drop, o.tolerance,
      out.size_before, out.size_after,
      static_cast<double>(out.size_after) / std::max<int64_t>(1, out.size_before));
  if (drop > o.tolerance) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "refused: %s lowers test macro F1 from %.4f to %.4f (a drop of %.4f, more than the "
        "tolerance %.4f); nothing was published",
        o.method, MacroF1(out.parent_test), MacroF1(out.test), drop, o.tolerance));
  }

  // Golden examples: the parent's inputs, the compressed model's outputs for them in one batch
  // (as the server verifies them).
  std::vector<float> golden_inputs;
  for (const auto& g : parent.golden) {
    golden_inputs.insert(golden_inputs.end(), g.input.begin(), g.input.end());
  }
  ARG_ASSIGN_OR_RETURN(
      std::vector<float> golden_probs,
      RunTorchScript(compressed, golden_inputs.data(), static_cast<int64_t>(parent.golden.size()),
                     parent.input_dim));
  std::vector<std::string> golden_ids;
  for (const auto& g : parent.golden) golden_ids.push_back(g.id);
  ARG_RETURN_IF_ERROR(CheckGoldenRowsAlone(
      compressed,
      torch::from_blob(golden_inputs.data(),
                       {static_cast<int64_t>(parent.golden.size()), parent.input_dim}),
      golden_probs, golden_ids, labels, absl::StrCat(o.method, " of v", parent.version)));
  ModelCard card = parent;
  card.architecture = architecture;
  card.hyperparameters = hyperparameters;
  card.metrics = {{"val", MetricsToJson(val)}, {"test", MetricsToJson(out.test)}};
  card.compression = {
      {"parent", {{"version", parent.version}, {"model_sha256", parent.model_sha256}}},
      {"method", o.method},
      {"settings", settings},
      {"config_overrides", o.overrides},
      {"size_bytes",
       {{"before", out.size_before},
        {"after", out.size_after},
        {"ratio", static_cast<double>(out.size_after) / std::max<int64_t>(1, out.size_before)}}},
      {"test_metrics",
       {{"parent", MetricsToJson(out.parent_test)},
        {"compressed", MetricsToJson(out.test)},
        {"difference", Difference(out.test, out.parent_test)}}},
      {"macro_f1", {{"parent", MacroF1(out.parent_test)}, {"compressed", MacroF1(out.test)}}},
      {"tolerance", {{"macro_f1_drop", o.tolerance}}}};
  if (o.method == "int8") {
    card.quantization = {
        {"engine", o.engine},
        {"scheme",
         "int8 weights per output channel; uint8 activations over static ranges (min/max of each "
         "layer's input on the calibration rows; values outside are clamped)"},
        {"device", "cpu"},
        {"calibration",
         {{"split", "train"},
          {"rows", calibration.rows},
          {"rows_sha256", calibration.rows_sha256},
          {"method", "min/max of each layer's input over the rows, widened to hold 0"}}},
        {"batch_dependence",
         "none: the ranges are fixed at compress time and the int8 products are exact, so a row "
         "gives the same probabilities alone and in any batch (checked on the golden examples at "
         "publish and at load)"}};
  }
  const size_t k = labels.size();
  for (size_t i = 0; i < card.golden.size(); ++i) {
    card.golden[i].probabilities.assign(golden_probs.begin() + i * k,
                                        golden_probs.begin() + (i + 1) * k);
  }
  // int8 kernels may round differently on another CPU (VNNI or not); fp32 stays tight.
  card.golden_tolerance = o.method == "int8" ? 2e-3 : 1e-4;
  card.model_sha256 = Sha256Hex(model_bytes);
  card.created = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  card.trainer_version = ARGINATOR_VERSION;
  card.torch_version = TORCH_VERSION;
  ARG_ASSIGN_OR_RETURN(
      out.published,
      PublishVersion(repository, parent.name, [&](const std::string& into, int64_t version) {
        card.version = version;
        ARG_RETURN_IF_ERROR(WriteFileDurably(ModelFilePath(into), model_bytes));
        ARG_RETURN_IF_ERROR(WriteDensityFile(into, decision));
        card.decision_json = decision.card;
        card.decision = decision.policy;
        // The parent's split record and reference index, which the card (a copy of the
        // parent's) names: the same training data, whatever the compression did to the model.
        for (const char* file : {kSplitRecordFile, kReferenceIndexFile, kReferenceTableFile}) {
          const fs::path from = dir / file;
          if (!fs::exists(from)) continue;
          ARG_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(from.string()));
          ARG_RETURN_IF_ERROR(WriteFileDurably((fs::path(into) / file).string(), bytes));
        }
        return WriteFileDurably(ModelCardPath(into), ModelCardToJson(card).dump(2) + "\n");
      }));
  log << "Published " << parent.name << " version " << out.published.version << " (" << o.method
      << " of v" << parent.version << ") -> " << out.published.path << "\n";
  return out;
}

}  // namespace arginator::trainer
