#include "server/server_config.h"

#include "common/file_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

// configs/server.yaml is compiled in as the defaults: the binary's copy is the file as it is now
// (a stale build would serve other defaults than the file documents), and every key in it is
// read into ServerConfig (LoadServerConfig refuses a key it never reads).
TEST(ServerConfigTest, TheDefaultsAreConfigsServerYamlAndEveryKeyIsRead) {
  absl::StatusOr<std::string> file =
      ReadFileToString(std::string(ARGINATOR_SOURCE_DIR) + "/configs/server.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(std::string(DefaultServerConfigYaml()), *file);
  absl::StatusOr<ServerConfig> defaults = LoadServerConfig("", {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(DefaultServerConfig().port, defaults->port);
}

TEST(ServerConfigTest, DefaultValuesAsDocumented) {
  auto shipped = LoadServerConfig(std::string(ARGINATOR_SOURCE_DIR) + "/configs/server.yaml", {});
  auto defaults = LoadServerConfig("", {});
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(shipped->port, 50051);
  EXPECT_EQ(shipped->metrics_port, 9464);
  EXPECT_EQ(shipped->batching.max_batch_size, defaults->batching.max_batch_size);
  EXPECT_EQ(shipped->batching.max_queue_delay, absl::ZeroDuration());
  EXPECT_EQ(shipped->intra_op_threads, 1);
  EXPECT_EQ(shipped->policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(shipped->max_connection_age_ms, 300000);
  EXPECT_EQ(shipped->batching.executor_yields, defaults->batching.executor_yields);
  EXPECT_EQ(shipped->batching.inline_max_rows, defaults->batching.inline_max_rows);
  EXPECT_EQ(shipped->max_card_bytes, defaults->max_card_bytes);
  EXPECT_EQ(shipped->max_model_bytes, defaults->max_model_bytes);
  EXPECT_EQ(shipped->load_timeout, defaults->load_timeout);
  EXPECT_EQ(shipped->retry_backoff, defaults->retry_backoff);
  EXPECT_EQ(shipped->max_retry_backoff, defaults->max_retry_backoff);
  EXPECT_FALSE(shipped->links_outside_repository);
  EXPECT_FALSE(defaults->links_outside_repository);
  EXPECT_EQ(shipped->persist_labels, defaults->persist_labels);
  EXPECT_TRUE(defaults->persist_labels);
  EXPECT_EQ(shipped->max_name_bytes, 256);
  EXPECT_EQ(shipped->max_status_message_bytes, defaults->max_status_message_bytes);
  EXPECT_EQ(shipped->metrics_http.threads, 2);
  EXPECT_EQ(shipped->rest_http.max_connections, 1024);
  EXPECT_EQ(shipped->rest_http.max_buffered_bytes, size_t{256} << 20);
  EXPECT_EQ(shipped->rest_http.max_headers, 100u);
  EXPECT_EQ(shipped->rest_json.max_depth, 32u);
  EXPECT_EQ(shipped->rest_json.max_values, 4718592u);
  EXPECT_EQ(shipped->max_input_dim, 1024);
  EXPECT_EQ(shipped->rest_http.max_request_body_bytes, size_t{64} << 20);
  EXPECT_EQ(shipped->metrics_http.max_request_body_bytes, 0u) << "GET only";
  EXPECT_EQ(shipped->warmup_batches, 3);
}

TEST(ServerConfigTest, OverridesApplyAndEveryCheckNamesItsKey) {
  auto c = LoadServerConfig("", {"server.port=7000", "models.policy=specific",
                                 "models.versions=[2, 3]", "batching.enabled=false"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->policy.versions, (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(c->batching.enabled);
  auto maps = LoadServerConfig("", {"models.default_labels={betalactamase-binary: stable}",
                                    "models.policies={betalactamase-class: specific 3 5}"});
  ASSERT_TRUE(maps.ok()) << maps.status();
  EXPECT_EQ(maps->default_labels.at("betalactamase-binary"), "stable");
  EXPECT_EQ(maps->model_policies.at("betalactamase-class").versions, (std::vector<int64_t>{3, 5}));
  EXPECT_THAT(LoadServerConfig("", {"models.policies={m: newest}"}).status().message(),
              HasSubstr("models.policies.m"));
  EXPECT_THAT(LoadServerConfig("", {"server.prot=1"}).status().message(),
              HasSubstr("unknown config key 'server.prot'"));
  EXPECT_THAT(LoadServerConfig("", {"models.policy=newest"}).status().message(),
              HasSubstr("'newest'"));
  EXPECT_THAT(LoadServerConfig("", {"tls.cert=/x.pem"}).status().message(),
              HasSubstr("tls.cert and tls.key"));
  EXPECT_THAT(LoadServerConfig("", {"admin.enabled=true", "admin.token_env=ARGINATOR_UNSET_VAR"})
                  .status()
                  .message(),
              HasSubstr("admin.token"));
  EXPECT_THAT(LoadServerConfig("", {"batching.max_queue_rows=8"}).status().message(),
              HasSubstr("max_queue_rows"));
  EXPECT_THAT(LoadServerConfig("", {"batching.executor_yields=-1"}).status().message(),
              HasSubstr("batching.executor_yields must be in [0, 16]"));
  auto yields = LoadServerConfig("", {"batching.executor_yields=3"});
  ASSERT_TRUE(yields.ok()) << yields.status();
  EXPECT_EQ(yields->batching.executor_yields, 3);
  auto limits = LoadServerConfig(
      "", {"models.max_model_bytes=1000", "metrics.threads=4", "metrics.read_timeout_s=0.5"});
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_EQ(limits->max_model_bytes, 1000);
  EXPECT_EQ(limits->max_card_bytes, int64_t{64} << 20);
  EXPECT_EQ(limits->metrics_http.threads, 4);
  EXPECT_EQ(limits->metrics_http.read_timeout, absl::Milliseconds(500));
  EXPECT_EQ(limits->metrics_http.keep_alive_timeout, absl::Seconds(2));
  EXPECT_THAT(LoadServerConfig("", {"metrics.keep_alive_timeout_s=0"}).status().message(),
              HasSubstr("metrics.keep_alive_timeout_s"));
  EXPECT_EQ(LoadServerConfig("", {"models.load_timeout_s=1.5"})->load_timeout,
            absl::Milliseconds(1500));
  EXPECT_THAT(LoadServerConfig("", {"models.retry_backoff_s=10", "models.max_retry_backoff_s=5"})
                  .status()
                  .message(),
              HasSubstr("models.retry_backoff_s"));
  // Found by the config fuzz target's author: keepalive seconds were cast to milliseconds
  // unchecked (1e300, .inf and .nan were undefined behaviour, a negative keepalive reached gRPC).
  for (const char* bad :
       {"keepalive.time_s=1e300", "keepalive.max_connection_age_s=.inf", "keepalive.timeout_s=.nan",
        "keepalive.time_s=-5", "server.grace_period_s=.inf", "models.load_timeout_s=.nan"}) {
    auto refused = LoadServerConfig("", {bad});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("must be a number of seconds in [0, "))
        << bad;
  }
  EXPECT_THAT(LoadServerConfig("", {"server.max_name_bytes=8"}).status().message(),
              HasSubstr("server.max_name_bytes must be in [16, 65536]"));
  EXPECT_THAT(LoadServerConfig("", {"models.load_timeout_s=0"}).status().message(),
              HasSubstr("models.load_timeout_s must be > 0"));
  EXPECT_THAT(LoadServerConfig("", {"models.max_card_bytes=0"}).status().message(),
              HasSubstr("models.max_card_bytes"));
  auto inline_rows = LoadServerConfig("", {"batching.inline_max_rows=0"});
  ASSERT_TRUE(inline_rows.ok()) << inline_rows.status();
  EXPECT_EQ(inline_rows->batching.inline_max_rows, 0);
  EXPECT_THAT(LoadServerConfig("", {"batching.inline_max_rows=-1"}).status().message(),
              HasSubstr("batching.inline_max_rows must be >= 0"));
}

}  // namespace
}  // namespace arginator::server
