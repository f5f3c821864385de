#include "server/app/drain.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;

TEST(DrainTest, StepsRunInTheOrderThatLosesNoAcceptedWork) {
  testing::FakeClock clock;
  const absl::Time began = clock.Now();
  std::vector<std::string> ran;
  absl::Time deadline;
  DrainSteps steps;
  steps.stop_readiness = [&] { ran.push_back("stop_readiness"); };
  steps.cancel_loads = [&] { ran.push_back("cancel_loads"); };
  steps.end_streams = [&] { ran.push_back("end_streams"); };
  steps.shutdown_grpc = [&](absl::Time d) {
    ran.push_back("shutdown_grpc");
    deadline = d;
    clock.Advance(absl::Seconds(3));  // in-flight calls took this long
  };
  steps.stop_rest = [&] { ran.push_back("stop_rest"); };
  steps.stop_watcher = [&] { ran.push_back("stop_watcher"); };
  steps.unload_models = [&] { ran.push_back("unload_models"); };
  steps.stop_metrics = [&] { ran.push_back("stop_metrics"); };
  RunDrain(steps, absl::Seconds(10), clock);
  // Readiness first (balancers stop sending before anything stops), streams before gRPC's
  // shutdown (they would hold the whole grace period), models after every server stopped,
  // metrics last.
  EXPECT_THAT(ran, ElementsAre("stop_readiness", "cancel_loads", "end_streams", "shutdown_grpc",
                               "stop_rest", "stop_watcher", "unload_models", "stop_metrics"));
  EXPECT_EQ(deadline, began + absl::Seconds(10)) << "the grace period counts from SIGTERM";
}

}  // namespace
}  // namespace arginator::server
