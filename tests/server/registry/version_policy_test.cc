#include "server/registry/version_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using S = VersionState;

TEST(VersionPolicyTest, DesiredVersions) {
  const std::set<int64_t> disk = {1, 2, 5, 9};
  EXPECT_EQ(DesiredVersions(*VersionPolicy::Parse("latest", 1, {}), disk), (std::set<int64_t>{9}));
  EXPECT_EQ(DesiredVersions(*VersionPolicy::Parse("latest", 2, {}), disk),
            (std::set<int64_t>{5, 9}));
  EXPECT_EQ(DesiredVersions(*VersionPolicy::Parse("all", 1, {}), disk), disk);
  EXPECT_EQ(DesiredVersions(*VersionPolicy::Parse("specific", 1, {2, 3}), disk),
            (std::set<int64_t>{2}));
  EXPECT_TRUE(DesiredVersions(*VersionPolicy::Parse("latest", 1, {}), {}).empty());
}

TEST(VersionPolicyTest, OneLineSpecs) {
  EXPECT_EQ(VersionPolicy::ParseSpec("latest")->latest, 1);
  EXPECT_EQ(VersionPolicy::ParseSpec("latest 3")->latest, 3);
  EXPECT_EQ(VersionPolicy::ParseSpec("all")->kind, VersionPolicy::Kind::kAll);
  EXPECT_EQ(VersionPolicy::ParseSpec("specific 2 7")->versions, (std::vector<int64_t>{2, 7}));
  EXPECT_FALSE(VersionPolicy::ParseSpec("latest x").ok());
  EXPECT_FALSE(VersionPolicy::ParseSpec("").ok());
}

TEST(VersionPolicyTest, ParseRejectsBadPolicies) {
  EXPECT_THAT(VersionPolicy::Parse("newest", 1, {}).status().message(),
              ::testing::HasSubstr("'newest'"));
  EXPECT_FALSE(VersionPolicy::Parse("latest", 0, {}).ok());
  EXPECT_FALSE(VersionPolicy::Parse("specific", 1, {}).ok());
}

// The availability-preserving transitions as a table: desired set, current states -> plan.
struct Row {
  const char* name;
  std::set<int64_t> desired;
  std::map<int64_t, S> current;
  std::vector<int64_t> load, unload;
};

TEST(VersionPolicyTest, PlanTransitionsTable) {
  const Row rows[] = {
      {"first load", {1}, {}, {1}, {}},
      {"steady", {1}, {{1, S::kReady}}, {}, {}},
      {"new version: load it, keep the old until it is ready", {2}, {{1, S::kReady}}, {2}, {}},
      {"new version loading: old stays", {2}, {{1, S::kReady}, {2, S::kLoading}}, {}, {}},
      {"new version ready: unload the old", {2}, {{1, S::kReady}, {2, S::kReady}}, {}, {1}},
      {"new version failed: old stays, no retry", {2}, {{1, S::kReady}, {2, S::kFailed}}, {}, {}},
      {"directory removed, other ready: unload", {1}, {{1, S::kReady}, {2, S::kReady}}, {}, {2}},
      {"last ready version removed: keep it", {}, {{1, S::kReady}}, {}, {}},
      {"several new: highest first", {2, 3}, {{1, S::kReady}}, {3, 2}, {}},
      {"unloaded and wanted again: reload", {1}, {{1, S::kUnloaded}}, {1}, {}},
      {"unloading is left alone", {2}, {{1, S::kUnloading}, {2, S::kReady}}, {}, {}},
  };
  for (const Row& row : rows) {
    TransitionPlan plan = PlanTransitions(row.desired, row.current);
    EXPECT_EQ(plan.load, row.load) << row.name;
    EXPECT_EQ(plan.unload, row.unload) << row.name;
  }
}

}  // namespace
}  // namespace arginator::server
