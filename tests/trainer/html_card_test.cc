// The HTML model card's renderer (trainer/html_card.h): what a reviewer must find on the page,
// every card value escaped, and a card missing sections or with mistyped values renders without
// throwing. tests/trainer/html_card_browser_test.py opens a real trainer's page in Chromium.
#include "trainer/html_card.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace arginator::trainer {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

json Card() {
  return json::parse(R"({
    "name": "lab-bla", "version": 3, "task": "binary", "input_dim": 1024,
    "labels": ["non_betalactamase", "betalactamase"],
    "created": "2026-12-03T07:00:00Z",
    "metrics": {
      "test": {"count": 200, "accuracy": 0.955, "precision": 0.9, "recall": 0.8, "f1": 0.847,
               "roc_auc": 0.97, "loss": 0.12, "confusion_matrix": [[150, 5], [4, 41]],
               "per_class": {"non_betalactamase": {"precision": 0.97, "recall": 0.968, "f1": 0.969,
                                                   "support": 155},
                             "betalactamase": {"precision": 0.891, "recall": 0.911, "f1": 0.901,
                                               "support": 45}}},
      "val": {"count": 200, "accuracy": 0.95},
      "test_intervals": {"method": "percentile bootstrap over the test proteins",
                         "resamples": 1000, "level": 0.95, "seed": 42,
                         "accuracy": [0.925, 0.98], "macro_f1": [0.88, 0.96],
                         "per_class": {"betalactamase": {"f1": [0.83, 0.95]}}}},
    "decision": {
      "calibration": {"method": "temperature scaling", "temperature": 1.6123,
                      "fitted_on": "validation split", "fitted_rows": 200, "ece_bins": 15,
                      "expected_calibration_error": {"val": {"before": 0.031, "after": 0.011},
                                                     "test": {"before": 0.0152, "after": 0.0075}}},
      "objective": {"kind": "precision", "target_precision": 0.95, "chosen_on": "validation split"},
      "thresholds": {"betalactamase": {"threshold": 0.7312, "val_precision": 0.96,
                                       "val_recall": 0.8, "val_called": 40, "val_top_label": 44,
                                       "val_support": 45},
                     "non_betalactamase": {"threshold": null}},
      "confidence": {"high": 0.9},
      "out_of_distribution": {"method": "probabilistic PCA", "components": 64, "cutoff": 1.83,
                              "quantile": 0.99, "chosen_on": "validation split",
                              "flagged_fraction": {"test_shuffled": 1.0}},
      "measured": {"test": {"rows": 200, "called": 190, "uncertain": 10, "coverage": 0.95,
                            "accuracy_of_calls": 0.987,
                            "by_confidence": {"High": {"rows": 170, "accuracy_of_top_label": 0.99}}}}
    },
    "evidence": {"file": "references.faiss", "count": 1400, "index": "IndexFlatIP: exact",
                 "bytes": 5734445, "build_seconds": 0.0123, "sha256": "abc123",
                 "recall_at_1": {"value": 0.9871, "target": 0.98,
                                 "measured_on": "2000 validation proteins"}},
    "dataset": {"data_sha256": "d5a7", "synthetic": false,
                "files": [{"file": "<img src=x onerror=alert(1)>.h5", "count": 9}]},
    "review": {"intended_use": "Screening <b>research</b> isolates", "limitations": "none known"},
    "provenance": {"source_commit": "0123abcd"}
  })");
}

TEST(HtmlCardTest, ShowsWhatAReviewerNeeds) {
  const std::string page = RenderHtmlCard(Card(), {{"publish_gate", {{"passed", true}}}},
                                          {"roc.png", "reliability.png"});
  EXPECT_THAT(page, HasSubstr("<title>lab-bla version 3"));
  EXPECT_THAT(page, HasSubstr("Publish gate: <strong>passed</strong>"));
  // Metrics with their intervals, per class too; macro F1 is the per-class mean (0.969 + 0.901).
  EXPECT_THAT(page, HasSubstr("0.9550</td><td class=\"num\">[0.9250, 0.9800]"));
  EXPECT_THAT(page, HasSubstr("0.9350</td><td class=\"num\">[0.8800, 0.9600]"));
  EXPECT_THAT(page, HasSubstr("0.9010</td><td class=\"num\">[0.8300, 0.9500]"));
  EXPECT_THAT(page, HasSubstr("<th>betalactamase</th><td class=\"num\">4</td><td "
                              "class=\"num\">41</td>"));  // confusion matrix row
  EXPECT_THAT(page, HasSubstr("temperature <strong>1.6123</strong>"));
  EXPECT_THAT(page, HasSubstr("0.0152</td><td class=\"num\">0.0075"));
  EXPECT_THAT(page, HasSubstr("0.7312"));  // the threshold
  EXPECT_THAT(page, HasSubstr("100.0%"));  // shuffled proteins flagged
  EXPECT_THAT(page, HasSubstr("98.7%"));   // accuracy of calls
  EXPECT_THAT(page, HasSubstr("1400"));    // references
  EXPECT_THAT(page, HasSubstr("0.9871 (target 0.98; 2000 validation proteins)"));
  EXPECT_THAT(page, HasSubstr("0123abcd"));  // source commit
  // Only the charts that exist are shown.
  EXPECT_THAT(page, HasSubstr("<img src=\"roc.png\""));
  EXPECT_THAT(page, HasSubstr("<img src=\"reliability.png\""));
  EXPECT_THAT(page, Not(HasSubstr("loss_curve.png")));
  EXPECT_THAT(page, Not(HasSubstr("<script")));
}

TEST(HtmlCardTest, EscapesEveryCardValue) {
  const std::string page = RenderHtmlCard(Card(), json::object(), {});
  EXPECT_THAT(page, HasSubstr("&lt;img src=x onerror=alert(1)&gt;.h5"));
  EXPECT_THAT(page, Not(HasSubstr("<img src=x")));
  EXPECT_THAT(page, HasSubstr("Screening &lt;b&gt;research&lt;/b&gt;"));
}

TEST(HtmlCardTest, SyntheticDataAndARefusedGateAreBanners) {
  json card = Card();
  card["dataset"]["synthetic"] = true;
  const std::string page = RenderHtmlCard(
      card, {{"publish_gate", {{"passed", false}, {"reasons", {"test macro F1 0.02 < 0.5"}}}}}, {});
  EXPECT_THAT(page, HasSubstr("Trained on synthetic data."));
  EXPECT_THAT(page, HasSubstr("<strong>refused</strong> &mdash; test macro F1 0.02 &lt; 0.5"));
}

TEST(HtmlCardTest, AnOldOrMalformedCardRendersWithoutThrowing) {
  // A version from an older trainer: no decision, evidence or review.
  const std::string old = RenderHtmlCard(
      {{"name", "old"}, {"version", 1}, {"labels", {"a", "b"}}, {"metrics", {{"test", {}}}}},
      json::object(), {});
  EXPECT_THAT(old, HasSubstr("Not in this card: a decision policy"));
  EXPECT_THAT(old, HasSubstr("Not in this card: a reference index"));
  EXPECT_THAT(old, HasSubstr("</html>"));
  // Wrong types everywhere: shown as text or a dash, never an exception.
  const json bad = {{"name", 7},
                    {"labels", "x"},
                    {"metrics",
                     {{"test", {{"per_class", 3}, {"confusion_matrix", "no"}}},
                      {"test_intervals", {{"accuracy", {1}}}}}},
                    {"decision", {{"thresholds", {{"a", 5}}}, {"measured", {{"test", 1}}}}},
                    {"evidence", "none"},
                    {"dataset", {{"files", {1, "two"}}}},
                    {"hyperparameters", {{"lr", {{"nested", true}}}}}};
  std::string page;
  EXPECT_NO_THROW(page = RenderHtmlCard(bad, {{"publish_gate", "?"}}, {}));
  EXPECT_THAT(page, HasSubstr("</html>"));
  EXPECT_NO_THROW(RenderHtmlCard(json::array(), json(nullptr), {}));
}

}  // namespace
}  // namespace arginator::trainer
