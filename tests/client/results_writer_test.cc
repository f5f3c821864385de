#include "client/results_writer.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator::client {
namespace {

v1::ClassifyResponse Response(const std::vector<std::string>& ids, bool probabilities = true) {
  v1::ClassifyResponse r;
  r.set_model_name("betalactamase-binary");
  r.set_model_version(3);
  r.add_labels("non_betalactamase");
  r.add_labels("betalactamase");
  for (const std::string& id : ids) {
    v1::Prediction* p = r.add_predictions();
    p->set_id(id);
    p->set_label("betalactamase");
    p->set_score(0.75f);
    p->set_call(id == "P2" ? "uncertain" : "betalactamase");
    p->set_confidence(id == "P2" ? "Low" : "Medium");
    p->set_call_probability(0.7f);
    p->set_ood_score(1.25f);
    if (probabilities) {
      p->add_probabilities(0.25f);
      p->add_probabilities(0.75f);
    }
  }
  return r;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Issue 13: ids were written unquoted, so a UniProt FASTA id with commas shifted every column
// after it. Fields with a comma, a quote or a line break are quoted as RFC 4180 says.
TEST(ResultsWriterTest, CsvQuotesIdsWithCommasQuotesAndLineBreaks) {
  testing::TempDir dir;
  const std::string path = dir.Join("results.csv");
  auto writer = ResultsWriter::Open(path, ResultsWriter::Format::kCsv, "/data/lab, run 2/in.h5");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Write(Response({"tr,A0A0B4J2F0,x", "sp|P1|say \"hi\"", "P2"})).ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_EQ(Read(path),
            "id,label,score,out_of_distribution,call,confidence,call_probability,ood_score,model,"
            "version,input_file,prob_non_betalactamase,prob_betalactamase\n"
            "\"tr,A0A0B4J2F0,x\",betalactamase,0.75,false,betalactamase,Medium,0.7,1.25,"
            "betalactamase-binary,3,in.h5,0.25,0.75\n"
            "\"sp|P1|say \"\"hi\"\"\",betalactamase,0.75,false,betalactamase,Medium,0.7,1.25,"
            "betalactamase-binary,3,in.h5,0.25,0.75\n"
            "P2,betalactamase,0.75,false,uncertain,Low,0.7,1.25,betalactamase-binary,3,in.h5,0.25,"
            "0.75\n");
  EXPECT_EQ(writer->uncertain(), 1);
  EXPECT_EQ(CsvField("a\nb"), "\"a\nb\"");
  EXPECT_EQ(CsvField("plain|id"), "plain|id");
}

// Issue 13: with --no-probabilities the header still named the prob_ columns the rows lacked.
TEST(ResultsWriterTest, CsvHeaderHasProbabilityColumnsOnlyWhenRowsHaveThem) {
  testing::TempDir dir;
  const std::string path = dir.Join("results.csv");
  auto writer = ResultsWriter::Open(path, ResultsWriter::Format::kCsv);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->Write(Response({"P1"}, /*probabilities=*/false)).ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_EQ(Read(path),
            "id,label,score,out_of_distribution,call,confidence,call_probability,ood_score,model,"
            "version,input_file\nP1,betalactamase,0.75,false,betalactamase,Medium,0.7,1.25,"
            "betalactamase-binary,3,\n");
}

}  // namespace
}  // namespace arginator::client
