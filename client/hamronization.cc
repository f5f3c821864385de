#include "client/hamronization.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/decision_policy.h"

namespace arginator::client {

const std::vector<std::string>& HamronizationColumns() {
  static const std::vector<std::string> kColumns = {
      "input_file_name",
      "gene_symbol",
      "gene_name",
      "reference_database_name",
      "reference_database_version",
      "reference_accession",
      "analysis_software_name",
      "analysis_software_version",
      "genetic_variation_type",
      "antimicrobial_agent",
      "coverage_percentage",
      "coverage_depth",
      "coverage_ratio",
      "drug_class",
      "input_gene_length",
      "input_gene_start",
      "input_gene_stop",
      "input_protein_length",
      "input_protein_start",
      "input_protein_stop",
      "input_sequence_id",
      "nucleotide_mutation",
      "nucleotide_mutation_interpretation",
      "predicted_phenotype",
      "predicted_phenotype_confidence_level",
      "amino_acid_mutation",
      "amino_acid_mutation_interpretation",
      "reference_gene_length",
      "reference_gene_start",
      "reference_gene_stop",
      "reference_protein_length",
      "reference_protein_start",
      "reference_protein_stop",
      "resistance_mechanism",
      "strand_orientation",
      "sequence_identity",
      "nearest_reference_cosine",
  };
  return kColumns;
}

std::string BetaLactamaseName(const std::string& label) {
  if (label == "betalactamase") return "beta-lactamase";
  if (label.size() == 7 && absl::StartsWith(label, "class_")) {
    return absl::StrCat("class ", label.substr(6), " beta-lactamase");
  }
  return absl::StrCat("beta-lactamase (", label, ")");
}

std::string GeneSymbolOf(const std::string& reference_id) {
  auto separator = [](char c) {
    return c == '|' || c == ',' || c == ';' || c == '=' || c == ' ' || c == '\t';
  };
  auto trimmed = [](char c) {
    return c == '[' || c == ']' || c == '(' || c == ')' || c == '{' || c == '}' || c == '"' ||
           c == '\'';
  };
  size_t i = 0;
  const size_t n = reference_id.size();
  while (i < n) {
    while (i < n && separator(reference_id[i])) ++i;
    size_t end = i;
    while (end < n && !separator(reference_id[end])) ++end;
    size_t b = i, e = end;
    while (b < e && trimmed(reference_id[b])) ++b;
    while (e > b && trimmed(reference_id[e - 1])) --e;
    if (e - b > 3 && reference_id.compare(b, 3, "bla") == 0) {
      const char c = reference_id[b + 3];
      if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return reference_id.substr(b, e - b);
    }
    i = end;
  }
  return "";
}

std::string HamronizationDatabaseVersion(int64_t version, const std::string& data_sha256) {
  if (data_sha256.empty()) return absl::StrCat(version);
  return absl::StrCat(version, " (data sha256:", data_sha256.substr(0, 16), ")");
}

std::optional<std::vector<std::string>> HamronizationRow(const v1::Prediction& p,
                                                         const std::string& model_name,
                                                         const std::string& database_version,
                                                         int64_t model_version,
                                                         const HamronizationContext& context) {
  const bool uncertain = p.call() == kUncertainCall;
  if (uncertain ? !context.include_uncertain : p.call() == "non_betalactamase") return std::nullopt;
  std::vector<std::string> row(HamronizationColumns().size());
  auto set = [&](const char* column, std::string value) {
    const auto& columns = HamronizationColumns();
    row[std::find(columns.begin(), columns.end(), column) - columns.begin()] = std::move(value);
  };
  set("input_file_name", context.input_file);
  std::string symbol;
  if (!uncertain && p.evidence_size() > 0 && !p.evidence_disagrees()) {
    symbol = GeneSymbolOf(p.evidence(0).id());
  }
  set("gene_symbol", symbol.empty() ? "bla" : symbol);
  set("gene_name", uncertain ? absl::StrCat("uncertain call (top label ", p.label(), ")")
                             : BetaLactamaseName(p.call()));
  set("reference_database_name", model_name);
  set("reference_database_version", database_version);
  // The nearest known protein when evidence was asked for; else the model version itself.
  set("reference_accession",
      p.evidence_size() > 0 ? p.evidence(0).id() : absl::StrCat(model_name, ":", model_version));
  if (p.evidence_size() > 0) {
    set("nearest_reference_cosine", absl::StrFormat("%.6g", p.evidence(0).cosine()));
  }
  set("analysis_software_name", "arginator");
  set("analysis_software_version", context.software_version);
  set("genetic_variation_type", "gene_presence_detected");
  set("drug_class", "beta-lactam");
  set("input_sequence_id", p.id());
  set("predicted_phenotype", uncertain ? "" : "beta-lactam resistance");
  set("predicted_phenotype_confidence_level", p.confidence());
  set("resistance_mechanism", "antibiotic inactivation");
  return row;
}

}  // namespace arginator::client
