#include "trainer/html_card.h"

#include <algorithm>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace arginator::trainer {
namespace {

using nlohmann::json;

constexpr char kStyle[] = R"css(
body { font-family: sans-serif; max-width: 1040px; margin: 2em auto; padding: 0 1em;
       color: #1b1b1b; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #d0d7de; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f5f7; }
.subtitle { color: #555; margin-top: 0; }
.banner { padding: 0.6em 1em; border-radius: 4px; margin: 1em 0; }
.warn { background: #fff4d6; border: 1px solid #e0b84b; }
.bad { background: #fde2e1; border: 1px solid #d9534f; }
.good { background: #e3f4e1; border: 1px solid #5cb85c; }
.note { color: #555; font-size: 0.92em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #d0d7de; }
code { background: #f3f5f7; padding: 0 0.2em; word-break: break-all; }
)css";

std::string Escape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The value at `path` inside `j`, or null when any step is missing or not an object.
const json* Find(const json& j, std::initializer_list<absl::string_view> path) {
  const json* at = &j;
  for (absl::string_view key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(std::string(key));
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

// A value as page text: integers as they are, other numbers to `decimals` places, strings
// escaped, null and absent as a dash, arrays joined.
std::string Text(const json* v, int decimals = 4) {
  if (v == nullptr || v->is_null()) return "&ndash;";
  if (v->is_number_unsigned()) return absl::StrCat(v->get<uint64_t>());
  if (v->is_number_integer()) return absl::StrCat(v->get<int64_t>());
  if (v->is_number_float()) return absl::StrFormat("%.*f", decimals, v->get<double>());
  if (v->is_string()) return Escape(v->get<std::string>());
  if (v->is_boolean()) return v->get<bool>() ? "yes" : "no";
  if (v->is_array()) {
    std::vector<std::string> parts;
    for (const json& e : *v) parts.push_back(Text(&e, decimals));
    return absl::StrJoin(parts, ", ");
  }
  return Escape(v->dump());
}

std::string Text(const json& j, std::initializer_list<absl::string_view> path, int decimals = 4) {
  return Text(Find(j, path), decimals);
}

// "[low, high]" for a bootstrap interval, a dash when there is none.
std::string Interval(const json* v) {
  if (v == nullptr || !v->is_array() || v->size() != 2 || !(*v)[0].is_number() ||
      !(*v)[1].is_number()) {
    return "&ndash;";
  }
  return absl::StrFormat("[%.4f, %.4f]", (*v)[0].get<double>(), (*v)[1].get<double>());
}

std::string Percent(const json* v) {
  if (v == nullptr || !v->is_number()) return "&ndash;";
  return absl::StrFormat("%.1f%%", 100 * v->get<double>());
}

// One page, appended section by section.
class Page {
 public:
  explicit Page(const std::vector<std::string>& images) : images_(images) {}

  void Raw(absl::string_view html) { absl::StrAppend(&html_, html); }
  void Heading(absl::string_view text) { absl::StrAppend(&html_, "<h2>", text, "</h2>\n"); }
  void Para(absl::string_view html, absl::string_view cls = "") {
    absl::StrAppend(&html_, cls.empty() ? "<p>" : absl::StrCat("<p class=\"", cls, "\">"), html,
                    "</p>\n");
  }
  void Missing(absl::string_view what) {
    Para(absl::StrCat("Not in this card: ", what, "."), "note");
  }
  void TableStart(std::initializer_list<absl::string_view> header) {
    absl::StrAppend(&html_, "<table>\n<tr>");
    for (absl::string_view h : header) absl::StrAppend(&html_, "<th>", h, "</th>");
    absl::StrAppend(&html_, "</tr>\n");
  }
  // A row whose first cell is a name and the rest numbers (right-aligned).
  void Row(absl::string_view name, const std::vector<std::string>& cells) {
    absl::StrAppend(&html_, "<tr><th>", name, "</th>");
    for (const std::string& c : cells) absl::StrAppend(&html_, "<td class=\"num\">", c, "</td>");
    absl::StrAppend(&html_, "</tr>\n");
  }
  // A row of text cells.
  void TextRow(absl::string_view name, const std::vector<std::string>& cells) {
    absl::StrAppend(&html_, "<tr><th>", name, "</th>");
    for (const std::string& c : cells) absl::StrAppend(&html_, "<td>", c, "</td>");
    absl::StrAppend(&html_, "</tr>\n");
  }
  void TableEnd() { absl::StrAppend(&html_, "</table>\n"); }
  // The chart when the run wrote it (a compressed version has no training curves).
  void Figure(absl::string_view file, absl::string_view caption) {
    if (std::find(images_.begin(), images_.end(), file) == images_.end()) return;
    absl::StrAppend(&html_, "<figure><img src=\"", Escape(file), "\" alt=\"", Escape(caption),
                    "\"><figcaption class=\"note\">", Escape(caption), "</figcaption></figure>\n");
  }
  std::string Take() { return std::move(html_); }

 private:
  const std::vector<std::string>& images_;
  std::string html_;
};

std::vector<std::string> Labels(const json& card) {
  std::vector<std::string> labels;
  if (const json* l = Find(card, {"labels"}); l && l->is_array()) {
    for (const json& e : *l) labels.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  }
  return labels;
}

void Header(Page& page, const json& card, const json& run) {
  page.Raw(absl::StrCat("<h1>", Text(card, {"name"}), " &middot; version ", Text(card, {"version"}),
                        "</h1>\n"));
  page.Para(absl::StrCat(Text(card, {"task"}), " classifier of ", Text(card, {"input_dim"}),
                         "-float embeddings; labels: ", Text(card, {"labels"}), "; created ",
                         Text(card, {"created"})),
            "subtitle");
  const json* synthetic = Find(card, {"dataset", "synthetic"});
  if (synthetic == nullptr) synthetic = Find(run, {"synthetic_data"});
  if (synthetic && synthetic->is_boolean() && synthetic->get<bool>()) {
    page.Para(
        "<strong>Trained on synthetic data.</strong> The figures on this page describe the "
        "synthetic generator's proteins, not real ones; this version is for trying the platform.",
        "banner warn");
  }
  if (const json* gate = Find(run, {"publish_gate"}); gate && gate->is_object()) {
    const json* passed = Find(*gate, {"passed"});
    if (passed && passed->is_boolean() && passed->get<bool>()) {
      page.Para("Publish gate: <strong>passed</strong>.", "banner good");
    } else {
      page.Para(absl::StrCat("Publish gate: <strong>refused</strong> &mdash; ",
                             Text(*gate, {"reasons"}), ". This run published no version."),
                "banner bad");
    }
  }
}

void IntendedUse(Page& page, const json& card) {
  page.Heading("Intended use and limits");
  const json* review = Find(card, {"review"});
  if (review == nullptr) return page.Missing("the review section (intended use, embedder)");
  page.Para(absl::StrCat("<strong>Intended use.</strong> ", Text(*review, {"intended_use"})));
  page.Para(absl::StrCat("<strong>Limitations.</strong> ", Text(*review, {"limitations"})));
  page.TableStart({"", ""});
  page.TextRow("embedder", {Text(*review, {"embedder", "model"})});
  page.TextRow("stored precision", {Text(*review, {"embedder", "precision"})});
  page.TextRow("pooling", {Text(*review, {"embedder", "pooling"})});
  page.TextRow("label source", {Text(*review, {"label_source"})});
  page.TableEnd();
}

void Performance(Page& page, const json& card) {
  page.Heading("Performance on held-out proteins");
  const json* test = Find(card, {"metrics", "test"});
  if (test == nullptr) return page.Missing("test metrics");
  const json* val = Find(card, {"metrics", "val"});
  const json* iv = Find(card, {"metrics", "test_intervals"});
  const json empty = json::object();
  if (iv == nullptr) iv = &empty;
  page.Para(absl::StrCat("Test split: ", Text(*test, {"count"}),
                         " proteins never used for training or for choosing "
                         "the epoch, the calibration or the thresholds. Intervals: ",
                         Text(*iv, {"level"}, 2), " ", Text(*iv, {"method"}), " (",
                         Text(*iv, {"resamples"}), " resamples, seed ", Text(*iv, {"seed"}),
                         "); a wide interval means few test proteins."));
  // Macro F1: the mean of the per-class F1s, as the publish gate and the trainer's log use it.
  std::string macro = "&ndash;";
  if (const json* pc = Find(*test, {"per_class"}); pc && pc->is_object() && !pc->empty()) {
    double sum = 0;
    for (const auto& [label, r] : pc->items()) {
      if (const json* f = Find(r, {"f1"}); f && f->is_number()) sum += f->get<double>();
    }
    macro = absl::StrFormat("%.4f", sum / pc->size());
  }
  page.TableStart({"metric", "test", "95% interval", "validation"});
  for (const char* m : {"accuracy", "precision", "recall", "f1", "roc_auc", "loss"}) {
    page.Row(m, {Text(*test, {m}), Interval(Find(*iv, {m})), val ? Text(*val, {m}) : "&ndash;"});
  }
  page.Row("macro F1", {macro, Interval(Find(*iv, {"macro_f1"})), "&ndash;"});
  page.TableEnd();
  page.Para(
      "Binary models report precision, recall, F1 and ROC-AUC of the positive label; multiclass "
      "models their macro averages (ROC-AUC one-vs-rest).",
      "note");

  const json* per_class = Find(*test, {"per_class"});
  if (per_class && per_class->is_object()) {
    page.TableStart({"label", "test proteins", "precision", "95% interval", "recall",
                     "95% interval", "F1", "95% interval"});
    for (const auto& [label, r] : per_class->items()) {
      const json* ci = Find(*iv, {"per_class", label});
      const json none = json::object();
      const json& c = ci ? *ci : none;
      page.Row(Escape(label),
               {Text(r, {"support"}), Text(r, {"precision"}), Interval(Find(c, {"precision"})),
                Text(r, {"recall"}), Interval(Find(c, {"recall"})), Text(r, {"f1"}),
                Interval(Find(c, {"f1"}))});
    }
    page.TableEnd();
  }

  page.Raw("<h3>Confusion matrix (test split)</h3>\n");
  const std::vector<std::string> labels = Labels(card);
  const json* cm = Find(*test, {"confusion_matrix"});
  if (cm && cm->is_array() && cm->size() == labels.size()) {
    page.Raw("<table>\n<tr><th>true \\ predicted</th>");
    for (const std::string& l : labels) page.Raw(absl::StrCat("<th>", Escape(l), "</th>"));
    page.Raw("</tr>\n");
    for (size_t i = 0; i < labels.size(); ++i) {
      std::vector<std::string> cells;
      if ((*cm)[i].is_array()) {
        for (const json& v : (*cm)[i]) cells.push_back(Text(&v));
      }
      page.Row(Escape(labels[i]), cells);
    }
    page.TableEnd();
  }
  page.Figure("confusion_matrix.png", "Confusion matrix of the test split");
  page.Figure("roc.png", "ROC curves of the test split");
}

void Calibration(Page& page, const json& card) {
  page.Heading("Calibration");
  const json* cal = Find(card, {"decision", "calibration"});
  if (cal == nullptr) {
    return page.Missing("a decision policy (a version from an older trainer calls its top label)");
  }
  page.Para(absl::StrCat(
      "Method: ", Text(*cal, {"method"}), ", temperature <strong>", Text(*cal, {"temperature"}),
      "</strong>, fitted on the ", Text(*cal, {"fitted_on"}), " (", Text(*cal, {"fitted_rows"}),
      " proteins). The server divides the model's log-probabilities by it before every decision; "
      "the ranking of the labels never changes."));
  page.TableStart({"expected calibration error", "before", "after"});
  for (const char* split : {"val", "test"}) {
    page.Row(split, {Text(*cal, {"expected_calibration_error", split, "before"}),
                     Text(*cal, {"expected_calibration_error", split, "after"})});
  }
  page.TableEnd();
  page.Para(absl::StrCat("Expected calibration error: the mean gap between top probability and "
                         "accuracy over ",
                         Text(*cal, {"ece_bins"}),
                         " equal-width bins, weighted by rows. The test split was not used for "
                         "the fit."),
            "note");
  page.Figure("reliability.png", "Reliability diagram of the test split, before and after");
}

void Decision(Page& page, const json& card) {
  page.Heading("Decision policy");
  const json* d = Find(card, {"decision"});
  if (d == nullptr) return page.Missing("a decision policy");
  page.Para(absl::StrCat(
      "Each answer's <code>call</code> is the top calibrated label when its probability reaches "
      "that label's threshold and the input is in distribution, else <code>uncertain</code>. "
      "Thresholds were chosen on the ",
      Text(*d, {"objective", "chosen_on"}), " for objective <strong>",
      Text(*d, {"objective", "kind"}), "</strong> (target precision ",
      Text(*d, {"objective", "target_precision"}, 2),
      "). A label with no threshold is never called."));
  if (const json* t = Find(*d, {"thresholds"}); t && t->is_object()) {
    page.TableStart({"label", "threshold", "val precision", "val recall", "val called",
                     "val top label", "val support"});
    for (const auto& [label, e] : t->items()) {
      page.Row(Escape(label),
               {Text(e, {"threshold"}), Text(e, {"val_precision"}), Text(e, {"val_recall"}),
                Text(e, {"val_called"}), Text(e, {"val_top_label"}), Text(e, {"val_support"})});
    }
    page.TableEnd();
  }
  page.Para(
      absl::StrCat("Confidence: <strong>High</strong> a call with calibrated probability at "
                   "least ",
                   Text(*d, {"confidence", "high"}, 2),
                   "; <strong>Medium</strong> any other call; <strong>Low</strong> "
                   "<code>uncertain</code>."));

  page.Raw("<h3>Out of distribution</h3>\n");
  if (const json* o = Find(*d, {"out_of_distribution"})) {
    page.Para(absl::StrCat(Text(*o, {"method"}), " with ", Text(*o, {"components"}),
                           " components; cut-off ", Text(*o, {"cutoff"}), ", the ",
                           Text(*o, {"quantile"}, 3), " quantile of the ", Text(*o, {"chosen_on"}),
                           "'s scores; also flagged: ", Text(*o, {"also"}), "."));
    page.TableStart({"proteins", "flagged out of distribution"});
    const std::pair<const char*, const char*> probes[] = {
        {"val", "validation split"},
        {"test", "test split"},
        {"test_shuffled", "test proteins, values shuffled"},
        {"test_random_at_same_norm", "random directions at the test proteins' norms"}};
    for (const auto& [key, name] : probes) {
      page.Row(name, {Percent(Find(*o, {"flagged_fraction", key}))});
    }
    page.TableEnd();
  }

  page.Raw("<h3>What the policy did on held-out proteins</h3>\n");
  const json* measured = Find(*d, {"measured"});
  if (measured == nullptr) return page.Missing("measured coverage");
  page.TableStart({"split", "proteins", "called", "uncertain", "coverage", "accuracy of calls",
                   "out of distribution"});
  for (const char* split : {"val", "test"}) {
    const json* m = Find(*measured, {split});
    if (m == nullptr) continue;
    page.Row(split, {Text(*m, {"rows"}), Text(*m, {"called"}), Text(*m, {"uncertain"}),
                     Percent(Find(*m, {"coverage"})), Percent(Find(*m, {"accuracy_of_calls"})),
                     Text(*m, {"out_of_distribution"})});
  }
  page.TableEnd();
  if (const json* levels = Find(*measured, {"test", "by_confidence"});
      levels && levels->is_object()) {
    page.TableStart({"confidence (test split)", "proteins", "accuracy of the top label"});
    for (const char* level : {"High", "Medium", "Low"}) {
      page.Row(level, {Text(*levels, {level, "rows"}),
                       Percent(Find(*levels, {level, "accuracy_of_top_label"}))});
    }
    page.TableEnd();
  }
}

void Evidence(Page& page, const json& card) {
  page.Heading("Reference index (evidence)");
  const json* e = Find(card, {"evidence"});
  if (e == nullptr) {
    return page.Missing("a reference index (requests for evidence are refused for this version)");
  }
  page.Para(
      "An answer can carry its nearest known proteins (id, label, cosine similarity) from this "
      "index, and says when the nearest one's label disagrees with the call.");
  page.TableStart({"", ""});
  page.TextRow("proteins", {Text(*e, {"proteins"})});
  page.TextRow("references", {Text(*e, {"count"})});
  page.TextRow("index", {Text(*e, {"index"})});
  if (const json* recall = Find(*e, {"recall_at_1"})) {
    page.TextRow("recall@1 against exact search",
                 {absl::StrCat(Text(*recall, {"value"}), " (target ", Text(*recall, {"target"}, 2),
                               "; ", Text(*recall, {"measured_on"}), ")")});
  }
  page.TextRow("size", {absl::StrCat(Text(*e, {"bytes"}), " bytes")});
  page.TextRow("build time", {absl::StrCat(Text(*e, {"build_seconds"}, 2), " s")});
  page.TextRow(absl::StrCat(Text(*e, {"file"}), " sha256"),
               {absl::StrCat("<code>", Text(*e, {"sha256"}), "</code>")});
  page.TextRow(absl::StrCat(Text(*e, {"table_file"}), " sha256"),
               {absl::StrCat("<code>", Text(*e, {"table_sha256"}), "</code>")});
  page.TableEnd();
}

void Training(Page& page, const json& card, const json& run) {
  page.Heading("Training");
  page.TableStart({"", ""});
  page.TextRow("architecture", {absl::StrCat(Text(card, {"architecture", "kind"}), ", layers ",
                                             Text(card, {"architecture", "layers"}), ", ",
                                             Text(card, {"architecture", "activation"}))});
  if (const json* h = Find(card, {"hyperparameters"}); h && h->is_object()) {
    for (const auto& [key, value] : h->items()) page.TextRow(Escape(key), {Text(&value, 6)});
  }
  if (const json* stopped = Find(run, {"stopped_early"})) {
    page.TextRow("stopped early", {Text(stopped)});
  }
  page.TableEnd();
  page.Figure("loss_curve.png", "Cross-entropy loss per epoch");
  page.Figure("accuracy_curve.png", "Accuracy and F1 per epoch");
}

void Lineage(Page& page, const json& card) {
  page.Heading("Lineage");
  const json* ds = Find(card, {"dataset"});
  if (ds == nullptr) return page.Missing("the training data");
  page.TableStart({"", ""});
  page.TextRow("training data sha256",
               {absl::StrCat("<code>", Text(*ds, {"data_sha256"}), "</code>")});
  page.TextRow("labels", {absl::StrCat(Text(*ds, {"label_source"}), " <code>",
                                       Text(*ds, {"labels_sha256"}), "</code>")});
  page.TextRow("class counts",
               {Escape(Find(*ds, {"class_counts"}) ? Find(*ds, {"class_counts"})->dump()
                                                   : std::string("-"))});
  page.TextRow(
      "split",
      {absl::StrCat(
          "by ", Text(*ds, {"split", "by"}), " (", Text(*ds, {"split", "method"}), "), seed ",
          Text(*ds, {"split_seed"}), "; train ", Text(*ds, {"split_sizes", "train"}), ", val ",
          Text(*ds, {"split_sizes", "val"}), ", test ", Text(*ds, {"split_sizes", "test"}))});
  page.TextRow("closest test-train pair",
               {absl::StrCat("cosine ", Text(*ds, {"split", "nearest_train_test_cosine", "max"}),
                             " (", Text(*ds, {"split", "nearest_train_test_cosine", "test_id"}),
                             " / ", Text(*ds, {"split", "nearest_train_test_cosine", "train_id"}),
                             "); mean nearest ",
                             Text(*ds, {"split", "nearest_train_test_cosine", "mean"}))});
  page.TextRow("split record", {absl::StrCat(Text(*ds, {"split_record", "file"}), " <code>",
                                             Text(*ds, {"split_record", "sha256"}), "</code>")});
  page.TextRow("model.pt sha256",
               {absl::StrCat("<code>", Text(card, {"model_sha256"}), "</code>")});
  page.TextRow("source commit",
               {absl::StrCat("<code>", Text(card, {"provenance", "source_commit"}), "</code>")});
  page.TextRow("trained on",
               {absl::StrCat(Text(card, {"provenance", "host"}), " with trainer ",
                             Text(card, {"provenance", "trainer_version"}), ", LibTorch ",
                             Text(card, {"provenance", "torch_version"}))});
  if (const json* c = Find(card, {"compression"})) {
    page.TextRow("compressed from", {absl::StrCat("version ", Text(*c, {"parent", "version"}),
                                                  " by ", Text(*c, {"method"}), "; test macro F1 ",
                                                  Text(*c, {"macro_f1", "parent"}), " &rarr; ",
                                                  Text(*c, {"macro_f1", "compressed"}))});
  }
  if (const json* g = Find(card, {"golden", "examples"}); g && g->is_array()) {
    page.TextRow("golden examples",
                 {absl::StrCat(g->size(),
                               " test proteins, checked at publish and at every load "
                               "within ",
                               Text(card, {"golden", "tolerance"}, 6))});
  }
  page.TableEnd();
  if (const json* files = Find(*ds, {"files"}); files && files->is_array()) {
    page.TableStart({"file", "class", "proteins", "layout", "precision", "sha256"});
    for (const json& f : *files) {
      page.TextRow(Text(f, {"file"}), {Text(f, {"class"}), Text(f, {"count"}), Text(f, {"layout"}),
                                       Text(f, {"precision"}),
                                       absl::StrCat("<code>", Text(f, {"sha256"}), "</code>")});
    }
    page.TableEnd();
  }
}

}  // namespace

std::string RenderHtmlCard(const json& card, const json& run,
                           const std::vector<std::string>& images) {
  Page page(images);
  page.Raw(absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
                        "<title>", Text(card, {"name"}), " version ", Text(card, {"version"}),
                        " &middot; model card</title>\n<style>", kStyle,
                        "</style>\n</head>\n<body>\n"));
  Header(page, card, run);
  IntendedUse(page, card);
  Performance(page, card);
  Calibration(page, card);
  Decision(page, card);
  Evidence(page, card);
  Training(page, card, run);
  Lineage(page, card);
  page.Para(absl::StrCat("Rendered by arginator-train from this version's model.json; every "
                         "figure above is the card's. Trainer ",
                         Text(card, {"trainer_version"}), "."),
            "note");
  page.Raw("</body>\n</html>\n");
  return page.Take();
}

}  // namespace arginator::trainer
