#include "server/app/health_reporter.h"

#include <grpcpp/health_check_service_interface.h>

#include <map>

#include "gtest/gtest.h"
#include "server/component_options.h"
#include "tests/testing/fake_loader.h"

namespace arginator::server {
namespace {

// gRPC's health service as its interface defines it: SetServingStatus(bool) sets every service
// registered so far.
class FakeHealth : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string& service, bool serving) override {
    status[service] = serving;
  }
  void SetServingStatus(bool serving) override {
    for (auto& [service, s] : status) s = serving;
    status[""] = serving;
  }
  std::map<std::string, bool> status;
};

class HealthReporterTest : public ::testing::Test {
 protected:
  HealthReporterTest()
      : registry_(testing::RegistryOptions(), &loader_, &observer_),
        status_(&registry_,
                [this] { return std::vector<std::string>(required_.begin(), required_.end()); }),
        reporter_(&status_, {"arginator.v1.Classifier"}, [this] { return models_; }) {}

  testing::FakeLoader loader_;
  RegistryObserver observer_;
  ModelRegistry registry_;
  std::set<std::string> required_ = {"a"}, models_ = {"a", "b"};
  ServingStatus status_;
  HealthReporter reporter_;
  FakeHealth health_;
};

TEST_F(HealthReporterTest, NotServingUntilRequiredModelsAreReadyLivenessAlways) {
  reporter_.Update();  // before Attach: nothing to report on, no crash
  reporter_.Attach(&health_);
  EXPECT_FALSE(health_.status.at(""));
  EXPECT_FALSE(health_.status.at("arginator.v1.Classifier"));
  EXPECT_TRUE(health_.status.at("liveness"));
  reporter_.Update();
  EXPECT_FALSE(health_.status.at(""));
  EXPECT_FALSE(health_.status.at("a"));
  EXPECT_TRUE(health_.status.at("liveness")) << "waiting for models is alive";

  registry_.Reconcile("b", {{1, VersionOnDisk("/repo/b/1")}});
  reporter_.Update();
  EXPECT_FALSE(health_.status.at("")) << "b is not required; a is";
  EXPECT_TRUE(health_.status.at("b"));
  registry_.Reconcile("a", {{1, VersionOnDisk("/repo/a/1")}});
  reporter_.Update();
  EXPECT_TRUE(health_.status.at(""));
  EXPECT_TRUE(health_.status.at("arginator.v1.Classifier"));
  EXPECT_TRUE(health_.status.at("a"));
  EXPECT_TRUE(health_.status.at("liveness"));
}

TEST_F(HealthReporterTest, DrainEndsReadinessForGoodButNotLiveness) {
  reporter_.Attach(&health_);
  registry_.Reconcile("a", {{1, VersionOnDisk("/repo/a/1")}});
  registry_.Reconcile("b", {{1, VersionOnDisk("/repo/b/1")}});
  reporter_.Update();
  ASSERT_TRUE(health_.status.at(""));
  reporter_.Drain();
  EXPECT_TRUE(status_.draining());
  EXPECT_FALSE(status_.Ready()) << "the v2 protocol and /healthz read this";
  for (const char* service : {"", "arginator.v1.Classifier", "a", "b"}) {
    EXPECT_FALSE(health_.status.at(service)) << service;
  }
  EXPECT_TRUE(health_.status.at("liveness"));
  reporter_.Update();  // a poll after the drain began must not report SERVING again
  EXPECT_FALSE(health_.status.at(""));
  EXPECT_FALSE(health_.status.at("a"));
}

// As the registry's observer (ArginatorServer wires it so), health follows every change of
// version states at once: a version becoming ready, or one taken out of service while serving,
// with no Update from a repository poll in between.
TEST(HealthReporterObserverTest, FollowsTheRegistrysStateChangesWithoutAPoll) {
  struct Wired {
    Wired()
        : status(&registry, [] { return std::vector<std::string>{"a"}; }),
          reporter(&status, {}, [] { return std::set<std::string>{"a"}; }),
          registry(testing::RegistryOptions(), &loader, &reporter) {}
    testing::FakeLoader loader;
    ServingStatus status;
    HealthReporter reporter;
    ModelRegistry registry;
  } s;
  FakeHealth health;
  s.reporter.Attach(&health);
  ASSERT_FALSE(health.status.at(""));
  s.registry.Reconcile("a", {{1, VersionOnDisk("/repo/a/1")}});
  EXPECT_TRUE(health.status.at(""));
  EXPECT_TRUE(health.status.at("a"));
  ServableHandle serving = *s.registry.Get("a", {});
  ASSERT_TRUE(s.registry.MarkFailed(serving.get(), absl::InternalError("outputs 5 columns")));
  EXPECT_FALSE(health.status.at(""));
  EXPECT_FALSE(health.status.at("a"));
  EXPECT_TRUE(health.status.at("liveness"));
}

}  // namespace
}  // namespace arginator::server
