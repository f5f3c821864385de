#include "server/metrics/server_metrics.h"

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/serving/served_request.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

TEST(ServerMetricsTest, ExportsTheDocumentedSeries) {
  ServerMetrics m;
  m.RecordRequest("bl", 0, server::RequestMethod::kClassify, "NOT_FOUND", 0.0001);
  auto batcher = m.ForVersion("bl", 2, {"non_betalactamase", "betalactamase"});
  const std::vector<int64_t> counts = {1, 3};
  const std::vector<float> norms = {6.2f, 6.1f, 6.3f, 12.0f};
  batcher->OnServed({RequestMethod::kClassify, 0.003, counts, norms, 1});
  batcher->OnBatch(5, absl::Microseconds(300));
  batcher->OnQueueWait(absl::Microseconds(100));
  batcher->OnQueueDepth(3);
  m.OnLoaded("bl", 2, absl::Milliseconds(40));
  m.OnLoadFailed("bl", 3, absl::DataLossError("bad sha"), absl::Milliseconds(1));
  m.OnStates("bl", {{2, VersionState::kReady}, {3, VersionState::kFailed}});
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("arginator_requests_total{code=\"OK\",method=\"Classify\",model="
                              "\"bl\",protocol=\"arginator.v1\",version=\"2\"} 1"));
  EXPECT_THAT(text, HasSubstr("arginator_requests_total{code=\"NOT_FOUND\",method=\"Classify\","
                              "model=\"bl\",protocol=\"arginator.v1\",version=\"\"} 1"));
  EXPECT_THAT(text, HasSubstr("arginator_embeddings_total{model=\"bl\",version=\"2\"} 4"));
  EXPECT_THAT(text, HasSubstr("arginator_out_of_distribution_total{model=\"bl\",version=\"2\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "arginator_predictions_total{label=\"betalactamase\",model=\"bl\",version=\"2\"} 3"));
  EXPECT_THAT(text, HasSubstr("arginator_input_l2_norm_count{model=\"bl\"} 4"));
  EXPECT_THAT(text, HasSubstr("arginator_batch_size_count{model=\"bl\",version=\"2\"} 1"));
  EXPECT_THAT(text, HasSubstr("arginator_queue_depth{model=\"bl\",version=\"2\"} 3"));
  EXPECT_THAT(text, HasSubstr("arginator_model_loads_total{model=\"bl\",result=\"failure\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr("arginator_model_version_state{model=\"bl\",state=\"failed\",version=\"3\"} 1"));
  EXPECT_THAT(text, HasSubstr("arginator_model_versions_ready{model=\"bl\"} 1"));
  EXPECT_THAT(text, HasSubstr("arginator_input_l2_norm_bucket"));
  EXPECT_THAT(text, HasSubstr("arginator_request_duration_seconds_bucket"));

  // Prometheus' own linter accepts the exposition.
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no promtool";
  testing::TempDir dir;
  std::ofstream(dir.Join("metrics.txt")) << text;
  auto check = testing::RunCommand("promtool check metrics < " + dir.Join("metrics.txt"));
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(ServerMetricsTest, UnloadRemovesTheVersionsBatcherSeries) {
  ServerMetrics m;
  m.ForVersion("bl", 1)->OnBatch(3, absl::Microseconds(10));
  m.ForVersion("bl", 2)->OnBatch(4, absl::Microseconds(10));
  m.OnUnloaded("bl", 1);
  const std::string text = m.Render();
  EXPECT_THAT(text,
              ::testing::Not(HasSubstr("arginator_batch_size_count{model=\"bl\",version=\"1\"}")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("arginator_queue_depth{model=\"bl\",version=\"1\"}")));
  EXPECT_THAT(text, HasSubstr("arginator_batch_size_count{model=\"bl\",version=\"2\"} 1"));
  EXPECT_THAT(text, HasSubstr("arginator_model_unloads_total{model=\"bl\"} 1"));
}

}  // namespace
}  // namespace arginator::server
