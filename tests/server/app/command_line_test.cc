#include "server/app/command_line.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Action = ServerCommandLine::Action;

std::variant<ServerCommandLine, int> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "arginator-server");
  return ParseServerCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(ServerCommandLineTest, FlagsBecomeOverridesAppliedAfterSet) {
  auto parsed = Parse({"--config", "configs/server.yaml", "--set", "server.port=1", "--port", "0",
                       "--metrics-port", "-1", "--rest-port", "8001", "--device", "cuda:1",
                       "--host", "127.0.0.1", "--model-repository", "/models"});
  ASSERT_TRUE(std::holds_alternative<ServerCommandLine>(parsed));
  const auto& line = std::get<ServerCommandLine>(parsed);
  EXPECT_EQ(line.action, Action::kServe);
  EXPECT_EQ(line.config_path, "configs/server.yaml");
  // --port wins over --set server.port: later overrides apply last.
  EXPECT_THAT(line.overrides,
              ElementsAre("server.port=1", "models.repository=/models", "server.port=0",
                          "server.metrics_port=-1", "server.rest_port=8001", "server.device=cuda:1",
                          "server.host=127.0.0.1"));
  auto config = LoadServerConfig("", line.overrides);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->port, 0);
  EXPECT_EQ(config->metrics_port, -1);
  EXPECT_EQ(config->repository, "/models");
}

TEST(ServerCommandLineTest, FlagsNotGivenLeaveTheConfigAlone) {
  auto parsed = Parse({});
  ASSERT_TRUE(std::holds_alternative<ServerCommandLine>(parsed));
  EXPECT_TRUE(std::get<ServerCommandLine>(parsed).overrides.empty());
  EXPECT_TRUE(std::get<ServerCommandLine>(parsed).config_path.empty());
}

TEST(ServerCommandLineTest, ActionsAndExits) {
  EXPECT_EQ(std::get<ServerCommandLine>(Parse({"--print-default-config"})).action,
            Action::kPrintDefaults);
  EXPECT_EQ(std::get<ServerCommandLine>(Parse({"--check-config"})).action, Action::kCheckConfig);
  EXPECT_EQ(std::get<ServerCommandLine>(Parse({"--check-device"})).action, Action::kCheckDevice);
  testing::internal::CaptureStdout();
  auto help = Parse({"--help"});
  EXPECT_THAT(testing::internal::GetCapturedStdout(), HasSubstr("--model-repository"));
  ASSERT_TRUE(std::holds_alternative<int>(help));
  EXPECT_EQ(std::get<int>(help), 0);
  testing::internal::CaptureStderr();
  auto bad = Parse({"--port", "many"});
  testing::internal::GetCapturedStderr();
  ASSERT_TRUE(std::holds_alternative<int>(bad));
  EXPECT_NE(std::get<int>(bad), 0);
}

TEST(ServerCommandLineTest, ConfigSummaryNamesWhatADryRunChecks) {
  EXPECT_EQ(ConfigSummary(DefaultServerConfig()),
            "config ok: port 50051, metrics port 9464, REST port 8000, device cpu, repository "
            "models");
}

}  // namespace
}  // namespace arginator::server
