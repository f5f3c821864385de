// hAMRonization rows (client/hamronization.h): the gene symbol a reference id carries, by the rule
// the Python client shares (tests/client/gene_symbols.tsv holds the cases both read), and when a
// row takes it.
#include "client/hamronization.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace arginator::client {
namespace {

const std::vector<std::string>& Columns() { return HamronizationColumns(); }

std::string Column(const std::vector<std::string>& row, const std::string& name) {
  return row[std::find(Columns().begin(), Columns().end(), name) - Columns().begin()];
}

TEST(HamronizationTest, GeneSymbolOfEveryCase) {
  std::ifstream cases(std::string(ARGINATOR_SOURCE_DIR) + "/tests/client/gene_symbols.tsv");
  ASSERT_TRUE(cases.good());
  std::string line;
  int checked = 0;
  while (std::getline(cases, line)) {
    if (line.rfind('#', 0) == 0) continue;
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    EXPECT_EQ(GeneSymbolOf(line.substr(0, tab)), line.substr(tab + 1)) << line;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(HamronizationTest, RowTakesTheNearestReferencesSymbolOnlyWhenItAgrees) {
  v1::Prediction p;
  p.set_id("contig_7_3");
  p.set_label("class_A");
  p.set_call("class_A");
  p.set_confidence("High");
  auto* e = p.add_evidence();
  e->set_id("WP_000027057.1|blaTEM-1");
  e->set_label("class_A");
  e->set_cosine(0.97f);
  const HamronizationContext context{"proteins.h5", "0.1.0", false};
  auto row = HamronizationRow(p, "betalactamase-class", "3", 3, context);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(Column(*row, "gene_symbol"), "blaTEM-1");
  EXPECT_EQ(Column(*row, "gene_name"), "class A beta-lactamase");
  EXPECT_EQ(Column(*row, "reference_accession"), "WP_000027057.1|blaTEM-1");

  p.set_evidence_disagrees(true);  // a class D reference nearest a class A call: not its gene
  row = HamronizationRow(p, "betalactamase-class", "3", 3, context);
  EXPECT_EQ(Column(*row, "gene_symbol"), "bla");

  p.set_evidence_disagrees(false);
  p.clear_evidence();
  row = HamronizationRow(p, "betalactamase-class", "3", 3, context);
  EXPECT_EQ(Column(*row, "gene_symbol"), "bla");
  EXPECT_EQ(Column(*row, "reference_accession"), "betalactamase-class:3");
}

}  // namespace
}  // namespace arginator::client
