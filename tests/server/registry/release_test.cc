// Releases on the registry (issue 27): default traffic that stays on its label, the canary split,
// shadow sampling, promote and rollback without loads, the `previous` grace, and the release
// files' format.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/release_settings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/registry/model_registry.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_loader.h"

namespace arginator::server {
namespace {

using testing::FakeLoader;
using ::testing::HasSubstr;

class ReleaseTest : public ::testing::Test {
 protected:
  ReleaseTest() {
    options_ = testing::RegistryOptions("latest");
    options_.clock = &clock_;
    options_.previous_grace = absl::Hours(1);
    options_.persist_labels = [this](const std::string&, const std::map<std::string, int64_t>& l) {
      if (persist_error_.ok()) persisted_labels_ = l;
      return persist_error_;
    };
    options_.persist_release = [this](const std::string&, const ReleaseSettings& s) {
      if (persist_error_.ok()) persisted_release_ = s;
      return persist_error_;
    };
  }
  static std::map<int64_t, VersionOnDisk> Disk(std::initializer_list<int64_t> versions) {
    std::map<int64_t, VersionOnDisk> out;
    for (int64_t v : versions) out.emplace(v, VersionOnDisk("/repo/m/" + std::to_string(v)));
    return out;
  }
  static int64_t Default(const ModelRegistry& r) {
    auto h = r.Get("m", {});
    return h.ok() ? (*h)->card.version : -1;
  }
  static VersionState StateOf(const ModelRegistry& r, int64_t version) {
    for (const ModelView& m : r.Snapshot()) {
      for (const VersionView& v : m.versions) {
        if (v.version == version) return v.state;
      }
    }
    return VersionState::kUnloaded;
  }
  // Versions 1 (stable) and 2 (canary) ready, on a policy that wants only the newest.
  void StableAndCanary(ModelRegistry& r, double percent) {
    r.Reconcile("m", Disk({1}));
    ASSERT_TRUE(r.SetLabel("m", kStableLabel, 1).ok());
    r.Reconcile("m", Disk({1, 2}));
    ASSERT_TRUE(r.SetCanary("m", 2, percent).ok());
  }

  testing::FakeClock clock_;
  ModelRegistry::Options options_;
  FakeLoader loader_;
  RegistryObserver observer_;
  absl::Status persist_error_ = absl::OkStatus();
  std::map<std::string, int64_t> persisted_labels_;
  ReleaseSettings persisted_release_;
};

// Issue 27, 'default traffic moved anyway': with `stable` on version 1 and no
// models.default_labels, publishing version 2 sent every unlabelled request to version 2.
TEST_F(ReleaseTest, PublishingDoesNotMoveDefaultTrafficOffStable) {
  ModelRegistry r(options_, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  ASSERT_TRUE(r.SetLabel("m", kStableLabel, 1).ok());
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(StateOf(r, 2), VersionState::kReady);
  EXPECT_EQ(Default(r), 1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(r.RouteRequest("m", {})->primary->card.version, 1);
  }
}

TEST_F(ReleaseTest, AModelWithoutLabelsIsServedByItsNewestVersion) {
  ModelRegistry r(options_, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Default(r), 2);
}

TEST_F(ReleaseTest, TheDefaultLabelCanBeChangedWithoutARestart) {
  options_.default_labels = {{"m", "production"}};
  ModelRegistry r(options_, &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));  // latest 1: 2 loads
  ASSERT_TRUE(r.SetLabel("m", kStableLabel, 2).ok());
  r.Reconcile("m", Disk({1, 2, 3}));
  ASSERT_TRUE(r.SetLabel("m", "production", 3).ok());
  EXPECT_EQ(Default(r), 3) << "the config's default label";
  auto change = r.SetDefaultLabel("m", kStableLabel);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(Default(r), 2);
  EXPECT_EQ(persisted_release_.default_label, kStableLabel);
  ASSERT_TRUE(r.SetDefaultLabel("m", "").ok());
  EXPECT_EQ(Default(r), 3) << "empty goes back to the config's";
}

TEST_F(ReleaseTest, TheCanaryTakesItsShareOfDefaultRequestsOnly) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 20);
  EXPECT_EQ(Default(r), 1) << "metadata and readiness read the stable version";
  int canary = 0;
  constexpr int kRequests = 10000;
  for (int i = 0; i < kRequests; ++i) {
    absl::StatusOr<Route> route = r.RouteRequest("m", {});
    ASSERT_TRUE(route.ok());
    canary += route->canary;
    EXPECT_EQ(route->primary->card.version, route->canary ? 2 : 1);
  }
  EXPECT_NEAR(canary, kRequests / 5, kRequests / 200) << "an even spread without ids";
  VersionSelector by_label;
  by_label.label = kStableLabel;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.RouteRequest("m", by_label)->primary->card.version, 1);
  VersionSelector exact;
  exact.version = 2;
  EXPECT_FALSE(r.RouteRequest("m", exact)->canary) << "asked for by version, not by the split";
}

TEST_F(ReleaseTest, TheSameRequestIdAlwaysLandsOnTheSameVersion) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 20);
  std::map<std::string, int64_t> first;
  int canary = 0;
  constexpr int kIds = 10000;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = "sample-" + std::to_string(i);
    VersionSelector s;
    s.request_hash = RequestIdHash(id);
    const int64_t v = r.RouteRequest("m", s)->primary->card.version;
    first[id] = v;
    canary += v == 2;
  }
  EXPECT_NEAR(canary, kIds / 5, kIds / 50) << "ids hash to the configured share";
  for (int round = 0; round < 3; ++round) {
    for (const auto& [id, v] : first) {
      VersionSelector s;
      s.request_hash = RequestIdHash(id);
      ASSERT_EQ(r.RouteRequest("m", s)->primary->card.version, v) << id;
    }
  }
}

TEST_F(ReleaseTest, PromoteKeepsThePreviousVersionLoadedAndRollbackNeedsNoLoad) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  auto promoted = r.Promote("m");
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_THAT(promoted->message, HasSubstr("1 -> 2"));
  EXPECT_EQ(persisted_labels_,
            (std::map<std::string, int64_t>{{kStableLabel, 2}, {kPreviousLabel, 1}}));
  EXPECT_EQ(persisted_release_.canary_percent, 0);
  EXPECT_EQ(persisted_release_.previous_until,
            absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now() + absl::Hours(1))));
  r.Reconcile("m", Disk({1, 2}));  // the policy wants only 2; `previous` keeps 1
  EXPECT_EQ(Default(r), 2);
  EXPECT_EQ(StateOf(r, 1), VersionState::kReady);
  EXPECT_FALSE(r.RouteRequest("m", {})->canary);

  const int loads = loader_.loads;
  auto rolled_back = r.Rollback("m");
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.status();
  EXPECT_EQ(Default(r), 1);
  EXPECT_EQ(loader_.loads, loads) << "a rollback never loads";
  EXPECT_EQ(r.Labels("m"), (std::map<std::string, int64_t>{{kStableLabel, 1}}));
  auto again = r.Rollback("m");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("nothing to roll back"));
}

TEST_F(ReleaseTest, RollbackDuringACanaryWithdrawsIt) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 50);
  ASSERT_TRUE(r.Rollback("m").ok());
  EXPECT_EQ(r.Labels("m"), (std::map<std::string, int64_t>{{kStableLabel, 1}}));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(r.RouteRequest("m", {})->primary->card.version, 1);
  EXPECT_EQ(r.Promote("m").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReleaseTest, PreviousLapsesAfterItsGraceAndNotBefore) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  ASSERT_TRUE(r.Promote("m").ok());
  clock_.Advance(absl::Minutes(59));
  EXPECT_TRUE(r.ExpirePrevious().empty());
  clock_.Advance(absl::Minutes(2));
  auto expired = r.ExpirePrevious();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_THAT(expired[0].second.message, HasSubstr("lapsed"));
  EXPECT_EQ(r.Labels("m"), (std::map<std::string, int64_t>{{kStableLabel, 2}}));
  r.Reconcile("m", Disk({1, 2}));
  r.FlushUnloads();
  EXPECT_NE(StateOf(r, 1), VersionState::kReady) << "unlabelled, the policy unloads it";
}

TEST_F(ReleaseTest, ShadowSamplesDefaultRequestsThatStayOnTheDefault) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 0);
  r.Reconcile("m", Disk({1, 2, 3}));
  ASSERT_TRUE(r.SetShadow("m", 3, 50).ok());
  int shadowed = 0;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<Route> route = r.RouteRequest("m", {});
    EXPECT_EQ(route->primary->card.version, 1);
    if (route->shadow) {
      EXPECT_EQ(route->shadow->card.version, 3);
      ++shadowed;
    }
  }
  EXPECT_NEAR(shadowed, 500, 10);
  VersionSelector exact;
  exact.version = 1;
  EXPECT_EQ(r.RouteRequest("m", exact)->shadow, nullptr) << "only default requests are shadowed";
  ASSERT_TRUE(r.SetShadow("m", 0, 0).ok());
  EXPECT_EQ(r.RouteRequest("m", {})->shadow, nullptr);
}

TEST_F(ReleaseTest, AnActionThatCannotBePersistedChangesNothing) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  persist_error_ = absl::FailedPreconditionError("read-only file system");
  EXPECT_THAT(r.Promote("m").status().message(), HasSubstr("read-only"));
  EXPECT_EQ(Default(r), 1);
  EXPECT_EQ(r.Labels("m").at(kCanaryLabel), 2);
}

TEST_F(ReleaseTest, ActionsRefuseWhatTheStateDoesNotAllow) {
  ModelRegistry r(options_, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  ASSERT_TRUE(r.SetLabel("m", kStableLabel, 1).ok());
  EXPECT_THAT(r.SetCanary("m", 1, 10).status().message(), HasSubstr("already the default"));
  EXPECT_THAT(r.SetCanary("m", 5, 10).status().message(), HasSubstr("not loaded"));
  EXPECT_THAT(r.SetCanary("m", 0, 10).status().message(), HasSubstr("no canary version"));
  EXPECT_EQ(r.SetCanary("m", 1, 101).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.Promote("m").status().message(), HasSubstr("no canary to promote"));
  EXPECT_EQ(r.Promote("nope").status().code(), absl::StatusCode::kNotFound);
}

// The watcher read labels.json / release.json before taking the lock release actions hold while
// persisting, so a read made just before an action finished was applied after it, undoing it
// (rollback's labels briefly back to promote's, audited as a hand edit). The read now runs under
// that lock: it sees the files only once the action has written them all.
TEST_F(ReleaseTest, AFileReadNeverOverlapsAnActionsWrites) {
  std::atomic<bool> persisting{false};
  Mutex file_mu;
  ReleaseSettings file;  // what release.json holds
  options_.persist_release = [&](const std::string&, const ReleaseSettings& s) {
    persisting = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    {
      MutexLock lock(&file_mu);
      file = s;
    }
    persisting = false;
    return absl::OkStatus();
  };
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  std::thread action([&] { ASSERT_TRUE(r.SetCanary("m", 0, 30).ok()); });
  while (!persisting) std::this_thread::yield();
  bool overlapped = true;
  auto change = r.ApplyFiles("m", [&](std::map<std::string, int64_t>&, ReleaseSettings& release) {
    overlapped = persisting;
    MutexLock lock(&file_mu);
    release = file;
    return absl::OkStatus();
  });
  action.join();
  EXPECT_FALSE(overlapped);
  EXPECT_FALSE(change.has_value()) << "the file held what the action had just set";
  EXPECT_EQ(r.Release("m").canary_percent, 30);
}

// Review of issue 27: rollback reverted a promote and silently dropped a canary started after it.
TEST_F(ReleaseTest, RollbackUndoesTheLatestStepFirst) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  ASSERT_TRUE(r.Promote("m").ok());  // stable 2, previous 1
  r.Reconcile("m", Disk({1, 2, 3}));
  ASSERT_TRUE(r.SetCanary("m", 3, 10).ok());
  auto first = r.Rollback("m");
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(first->message, HasSubstr("canary of m (version 3) withdrawn"));
  EXPECT_EQ(Default(r), 2);
  ASSERT_TRUE(r.Rollback("m").ok());
  EXPECT_EQ(Default(r), 1);
}

// Review of issue 27: without a `stable` label default requests go to the newest version, and a
// promote kept nothing to roll back to.
TEST_F(ReleaseTest, WithoutAStableLabelPromoteKeepsWhatDefaultRequestsGot) {
  options_.policy = *VersionPolicy::Parse("all", 1, {});
  ModelRegistry r(options_, &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Default(r), 2);
  EXPECT_THAT(r.SetCanary("m", 2, 10).status().message(), HasSubstr("already the default"));
  ASSERT_TRUE(r.SetCanary("m", 1, 10).ok());
  auto promoted = r.Promote("m");
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_EQ(r.Labels("m"),
            (std::map<std::string, int64_t>{{kStableLabel, 1}, {kPreviousLabel, 2}}));
  ASSERT_TRUE(r.Rollback("m").ok());
  EXPECT_EQ(Default(r), 2);
}

TEST_F(ReleaseTest, TheDefaultLabelMustNameALabelTheModelHas) {
  ModelRegistry r(options_, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  auto typo = r.SetDefaultLabel("m", "prodution");
  EXPECT_EQ(typo.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(typo.status().message(), HasSubstr("no version label 'prodution'"));
  EXPECT_EQ(r.Release("m").default_label, "");
}

// Review of issue 27: promote, canary and shadow added labels past the 64 the labels file may
// hold, so after a restart the model had no labels at all.
TEST_F(ReleaseTest, NoActionWritesMoreLabelsThanTheFileMayHold) {
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  for (size_t i = r.Labels("m").size(); i < kMaxLabelsPerModel; ++i) {
    ASSERT_TRUE(r.SetLabel("m", "l" + std::to_string(i), 1).ok());
  }
  auto shadow = r.SetShadow("m", 2, 100);
  EXPECT_EQ(shadow.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.Labels("m").size(), kMaxLabelsPerModel);
}

TEST_F(ReleaseTest, AReleaseFileThatCannotBeWrittenPutsTheLabelsFileBack) {
  std::vector<std::map<std::string, int64_t>> label_writes;
  options_.persist_labels = [&](const std::string&, const std::map<std::string, int64_t>& l) {
    label_writes.push_back(l);
    return absl::OkStatus();
  };
  ModelRegistry r(options_, &loader_, &observer_);
  StableAndCanary(r, 10);
  const std::map<std::string, int64_t> before = r.Labels("m");
  label_writes.clear();
  persist_error_ = absl::FailedPreconditionError("disk full");
  EXPECT_THAT(r.Promote("m").status().message(), HasSubstr("disk full"));
  ASSERT_EQ(label_writes.size(), 2u);
  EXPECT_EQ(label_writes.back(), before) << "the labels file holds what the model still has";
  EXPECT_EQ(r.Labels("m"), before);
}

TEST(ReleaseSettingsTest, ParsesWhatItWritesAndRefusesTyposAndBadValues) {
  ReleaseSettings s;
  s.default_label = "production";
  s.canary_percent = 12.5;
  s.shadow_percent = 40;
  s.previous_until = absl::FromUnixSeconds(1'800'000'000);
  auto back = ParseReleaseSettings(SerializeReleaseSettings(s), "release.json", 256);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(*ParseReleaseSettings("{}", "f", 256), ReleaseSettings());
  for (const char* bad : {"[]", "{\"canary_percent\": 120}", "{\"canary_pecent\": 10}",
                          "{\"shadow_percent\": \"all\"}", "{\"previous_until\": \"tomorrow\"}",
                          "{\"default_label\": 3}", "not json"}) {
    auto parsed = ParseReleaseSettings(bad, "release.json", 256);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("release.json")) << bad;
  }
}

}  // namespace
}  // namespace arginator::server
