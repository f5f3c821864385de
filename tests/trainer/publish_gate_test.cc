#include "trainer/publish_gate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::trainer {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Metrics of a binary model from its confusion matrix [true][called].
ClassificationMetrics FromConfusion(std::vector<std::vector<int64_t>> confusion) {
  ClassificationMetrics m;
  m.confusion = confusion;
  const std::vector<std::string> labels = {"non_betalactamase", "betalactamase"};
  for (size_t c = 0; c < labels.size(); ++c) {
    int64_t tp = confusion[c][c], called = 0, actual = 0;
    for (size_t o = 0; o < labels.size(); ++o) called += confusion[o][c], actual += confusion[c][o];
    ClassReport r{labels[c], called ? double(tp) / called : 0, actual ? double(tp) / actual : 0};
    r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0;
    m.per_class.push_back(r);
    m.count += actual;
  }
  return m;
}

// Issue 25: a model that called every test protein one class (test macro F1 0.027) was published
// and served.
TEST(PublishGateTest, TheVerdictFollowsTheFiguresAsATable) {
  const ClassificationMetrics degenerate = FromConfusion({{90, 0}, {10, 0}});
  const ClassificationMetrics good = FromConfusion({{88, 2}, {1, 9}});
  const ClassificationMetrics fair = FromConfusion({{80, 10}, {3, 7}});
  const PublishGate gate{0.5, {}, 0.02};
  struct Case {
    const char* what;
    const ClassificationMetrics* candidate;
    std::optional<ServingScore> serving;
    PublishGate gate;
    bool publish;
    const char* reason;
  } cases[] = {
      {"degenerate", &degenerate, std::nullopt, gate, false, "calls all 100 test proteins"},
      {"good, nothing served", &good, std::nullopt, gate, true, ""},
      {"good, better than served", &good, ServingScore{"m v1", 0.80}, gate, true, ""},
      {"fair, worse than served", &fair, ServingScore{"m v1", 0.90}, gate, false,
       "worse than m v1's 0.9000 on the same test split"},
      {"fair, within tolerance", &fair, ServingScore{"m v1", MacroF1(fair) + 0.01}, gate, true, ""},
      {"below the minimum", &fair, std::nullopt, PublishGate{0.9, {}, 0}, false,
       "below publish.min_macro_f1 0.9000"},
      {"a class below its minimum", &fair, std::nullopt,
       PublishGate{0, {{"betalactamase", 0.8}}, 0}, false,
       "test F1 of 'betalactamase' 0.5185 is below publish.min_class_f1.betalactamase 0.8000"},
      {"an unknown class", &good, std::nullopt, PublishGate{0, {{"class_Z", 0.1}}, 0}, false,
       "names 'class_Z', which the model does not output"},
  };
  for (const Case& c : cases) {
    GateVerdict v = JudgeCandidate(c.gate, *c.candidate, c.serving);
    EXPECT_EQ(v.publish, c.publish) << c.what;
    if (c.publish) {
      EXPECT_THAT(v.reasons, IsEmpty()) << c.what;
    } else {
      EXPECT_THAT(v.reasons, testing::Contains(HasSubstr(c.reason))) << c.what;
    }
  }
}

TEST(PublishGateTest, MacroF1WeighsEveryClassAlike) {
  EXPECT_NEAR(MacroF1(FromConfusion({{90, 0}, {10, 0}})), (2 * 0.9 / 1.9) / 2, 1e-9);
  EXPECT_EQ(MacroF1(FromConfusion({{1, 0}, {0, 1}})), 1.0);
}

}  // namespace
}  // namespace arginator::trainer
