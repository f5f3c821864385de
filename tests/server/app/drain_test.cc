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

// Issue 28's rolling restart behind HAProxy: the server shut gRPC down ~10 ms after NOT_SERVING,
// before a balancer polling readiness every 250 ms noticed, and the calls it had just sent failed
// (CANCELLED, "Stream removed"). With server.drain_delay_s, gRPC keeps serving that long first.
TEST(DrainTest, ADrainDelayKeepsGrpcServingAfterReadinessSaysNotServing) {
  absl::Time readiness_stopped, grpc_shut;
  DrainSteps steps;
  steps.stop_readiness = [&] { readiness_stopped = absl::Now(); };
  steps.cancel_loads = [] {};
  steps.end_streams = [] {};
  steps.shutdown_grpc = [&](absl::Time) { grpc_shut = absl::Now(); };
  steps.stop_rest = steps.stop_watcher = steps.unload_models = steps.stop_metrics = [] {};
  RunDrain(steps, absl::Seconds(10), Clock::Real(), absl::Milliseconds(300));
  EXPECT_GE(grpc_shut - readiness_stopped, absl::Milliseconds(300));
}

}  // namespace
}  // namespace arginator::server
