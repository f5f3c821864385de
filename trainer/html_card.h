#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace arginator::trainer {

// A run's HTML model card, written beside its PNG charts.
inline constexpr char kHtmlCardFile[] = "report.html";

// Renders a model card as one HTML page a reviewer reads: intended use and limits, test metrics
// with their bootstrap intervals, the confusion matrix and ROC, calibration, the decision policy
// and what it measured on held-out proteins, the reference index, training, and lineage (data,
// split, embedder, commit, parent version) with the publish gate's verdict.
//
// `card` is model.json's document (docs/model-json.md); a run that published nothing passes the
// parts it has, and every section says so when its part is absent, so a card from an older trainer
// or a compressed version renders too. `run` is the report's metrics.json summary (best epoch,
// early stop, publish gate). `images` names the chart files beside the page that exist; each is
// shown in its section by relative path. Every value taken from the card is HTML-escaped; the page
// has no script and loads nothing but those images. Never throws on a malformed card: a value of
// the wrong type is shown as text.
std::string RenderHtmlCard(const nlohmann::json& card, const nlohmann::json& run,
                           const std::vector<std::string>& images);

}  // namespace arginator::trainer
