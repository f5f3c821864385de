#include "server/registry/model_registry.h"

#include <condition_variable>
#include <mutex>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_loader.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

using testing::FakeLoader;

class RecordingObserver : public RegistryObserver {
 public:
  void OnUnloaded(const std::string& name, int64_t version) override {
    unloaded.push_back(version);
  }
  std::vector<int64_t> unloaded;
};

class ModelRegistryTest : public ::testing::Test {
 protected:
  ModelRegistry::Options Options(std::map<std::string, std::string> default_labels = {}) {
    return testing::RegistryOptions("latest", std::move(default_labels));
  }
  static std::map<int64_t, VersionOnDisk> Disk(std::initializer_list<int64_t> versions,
                                               const std::string& fingerprint = "") {
    std::map<int64_t, VersionOnDisk> out;
    for (int64_t v : versions)
      out.emplace(v, VersionOnDisk("/repo/m/" + std::to_string(v), fingerprint));
    return out;
  }
  static VersionState StateOf(const ModelRegistry& r, int64_t version) {
    for (const ModelView& m : r.Snapshot()) {
      for (const VersionView& v : m.versions) {
        if (v.version == version) return v.state;
      }
    }
    ADD_FAILURE() << "no version " << version;
    return VersionState::kFailed;
  }
  int64_t Served(ModelRegistry& r) {
    auto h = r.Get("m", {});
    return h.ok() ? (*h)->card.version : -1;
  }
  FakeLoader loader_;
  RecordingObserver observer_;
};

TEST_F(ModelRegistryTest, LoadsAndServesTheLatestVersion) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Served(r), 2);
  EXPECT_EQ(loader_.loads, 1);  // latest 1: version 1 is never loaded
}

TEST_F(ModelRegistryTest, AModelsOwnPolicyOverridesTheDefault) {
  ModelRegistry::Options options = Options();
  options.model_policies = {{"pinned", *VersionPolicy::ParseSpec("specific 1")}};
  ModelRegistry r(options, &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));
  r.Reconcile("pinned", Disk({1, 2}));
  EXPECT_EQ(Served(r), 2);
  EXPECT_EQ((*r.Get("pinned", {}))->card.version, 1);
}

TEST_F(ModelRegistryTest, SwapServesTheNewVersionAndUnloadsTheOld) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Served(r), 2);
  EXPECT_EQ(r.Get("m", {1, std::nullopt, {}}).status().code(), absl::StatusCode::kUnavailable);
  r.FlushUnloads();
  EXPECT_EQ(observer_.unloaded, (std::vector<int64_t>{1}));
}

TEST_F(ModelRegistryTest, FailedLoadKeepsTheOldVersionServingAndIsNotRetried) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  loader_.failing = {2};
  r.Reconcile("m", Disk({1, 2}));
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Served(r), 1);
  EXPECT_EQ(loader_.loads, 2);
  auto v2 = r.Get("m", {2, std::nullopt, {}});
  EXPECT_EQ(v2.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(v2.status().message(), HasSubstr("failed: golden mismatch"));
  auto views = r.Snapshot();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].versions.back().state, VersionState::kFailed);
}

// Issue 11, 'also seen': a version copied in non-atomically (model.json first, model.pt later)
// failed once and stayed FAILED forever. It is retried when its files change, with backoff.
TEST_F(ModelRegistryTest, AFailedVersionIsRetriedOnceItsFilesChangeAfterABackoff) {
  testing::FakeClock clock;
  ModelRegistry::Options options = Options();
  options.retry_backoff = absl::Seconds(1);
  options.max_retry_backoff = absl::Milliseconds(1500);
  options.clock = &clock;
  ModelRegistry r(options, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  loader_.failing = {2};
  r.Reconcile("m", Disk({1, 2}, "half-copied"));
  EXPECT_EQ(loader_.loads, 2);
  r.Reconcile("m", Disk({1, 2}, "half-copied"));  // unchanged: not retried
  EXPECT_EQ(loader_.loads, 2);
  r.Reconcile("m", Disk({1, 2}, "still copying"));  // changed, but within the backoff
  EXPECT_EQ(loader_.loads, 2);
  clock.Advance(absl::Milliseconds(999));
  r.Reconcile("m", Disk({1, 2}, "still copying"));  // 1 ms short of the backoff
  EXPECT_EQ(loader_.loads, 2);
  clock.Advance(absl::Milliseconds(1));
  r.Reconcile("m", Disk({1, 2}, "still copying"));  // changed and past it: retried, fails again
  EXPECT_EQ(loader_.loads, 3);
  clock.Advance(absl::Milliseconds(1499));  // the second backoff is 1.5 s (doubled, capped)
  loader_.failing.clear();
  r.Reconcile("m", Disk({1, 2}, "complete"));
  EXPECT_EQ(loader_.loads, 3);
  clock.Advance(absl::Milliseconds(1));
  r.Reconcile("m", Disk({1, 2}, "complete"));
  EXPECT_EQ(loader_.loads, 4);
  EXPECT_EQ(Served(r), 2);
}

TEST_F(ModelRegistryTest, RemovingADirectoryUnloadsItButNeverTheLastReadyVersion) {
  ModelRegistry r(testing::RegistryOptions("all"), &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));
  r.Reconcile("m", Disk({1}));  // version 2's directory removed
  EXPECT_EQ(Served(r), 1);
  r.FlushUnloads();
  EXPECT_EQ(observer_.unloaded, (std::vector<int64_t>{2}));
  r.Reconcile("m", Disk({}));  // the last one removed: keep serving from memory
  EXPECT_EQ(Served(r), 1);
}

TEST_F(ModelRegistryTest, InFlightHandleKeepsAnUnloadedVersionAlive) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  ServableHandle held = *r.Get("m", {});
  std::weak_ptr<const ServableVersion> weak = held;
  r.Reconcile("m", Disk({1, 2}));
  r.FlushUnloads();
  EXPECT_TRUE(observer_.unloaded.empty());  // still referenced by the "request"
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(held->card.version, 1);
  EXPECT_EQ(StateOf(r, 1), VersionState::kUnloading);
  held.reset();  // the release signal: no poll needed
  r.FlushUnloads();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(observer_.unloaded, (std::vector<int64_t>{1}));
  EXPECT_EQ(StateOf(r, 1), VersionState::kUnloaded);
}

// Issue 16: loads ran on the reconciling thread, so a slow load held the repository watcher's
// poll (and every ModelAdmin call behind it). They run on the load pool now.
TEST_F(ModelRegistryTest, LoadsRunOnThePoolAndBlockNeitherReconcileServingNorOtherModels) {
  struct GatedLoader : FakeLoader {
    absl::StatusOr<std::shared_ptr<ServableVersion>> Load(const std::string& name, int64_t version,
                                                          const std::string& dir) override {
      if (name == "slow" && version == 2) {
        std::unique_lock<std::mutex> lock(mu);
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return open; });
      }
      return FakeLoader::Load(name, version, dir);
    }
    void WaitEntered() {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return entered; });
    }
    void Open() {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
      cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false, open = false;
  } loader;
  ModelRegistry::Options options = Options();
  options.load_threads = 2;
  ModelRegistry r(options, &loader, &observer_);
  r.Reconcile("slow", Disk({1}));
  r.AwaitLoads();
  ASSERT_EQ(Served(r), -1) << "Served() reads model 'm'";
  EXPECT_EQ((*r.Get("slow", {}))->card.version, 1);

  r.Reconcile("slow", Disk({1, 2}));  // returns while version 2 loads
  loader.WaitEntered();
  EXPECT_EQ(StateOf(r, 2), VersionState::kLoading);
  EXPECT_EQ((*r.Get("slow", {}))->card.version, 1) << "version 1 serves meanwhile";
  r.Reconcile("m", Disk({1}));  // another model loads on the other thread
  EXPECT_EQ(r.AwaitVersion("m", 1).status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(StateOf(r, 2), VersionState::kLoading);

  loader.Open();
  auto loaded = r.AwaitVersion("slow", 2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->card.version, 2);
  r.AwaitLoads();
  EXPECT_EQ((*r.Get("slow", {}))->card.version, 2) << "swapped once version 2 was ready";
  r.FlushUnloads();
  EXPECT_EQ(observer_.unloaded, (std::vector<int64_t>{1})) << "the old version, after the swap";
}

// Issue 16: a model the server does not have got "is not served; served models: ..." from Get,
// "is not in the repository" from Pin and Exclude, and "is not served" from SetLabel.
TEST_F(ModelRegistryTest, AnUnknownModelGetsOneMessageWhateverTheCall) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  const std::string expected = "model 'nope' is not served; served models: m";
  for (const absl::Status& s : {r.Get("nope", {}).status(), r.Pin("nope", 1), r.Exclude("nope", 1),
                                r.SetLabel("nope", "stable", 1)}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(s.message(), expected);
  }
}

// Issue 23, item 6: a 257-byte (or 1 MB) label was accepted and persisted, then refused when the
// file was read back, losing every label of the model at the next start; item 8: versions 0 and
// -1 got NOT_FOUND or FAILED_PRECONDITION instead of INVALID_ARGUMENT.
TEST_F(ModelRegistryTest, LabelsAndVersionsOutsideTheirRulesAreInvalidArguments) {
  ModelRegistry::Options options = testing::RegistryOptions("all", {});
  options.max_label_bytes = 256;
  ModelRegistry r(options, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  EXPECT_TRUE(r.SetLabel("m", std::string(256, 'l'), 1).ok());
  for (const std::string& label :
       {std::string(), std::string(257, 'l'), std::string(1 << 20, 'l')}) {
    absl::Status s = r.SetLabel("m", label, 1);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("1 to 256 bytes"));
  }
  EXPECT_EQ(r.SetLabel("m", "stable", -1).code(), absl::StatusCode::kInvalidArgument);
  for (int64_t version : {0, -1}) {
    EXPECT_EQ(r.Pin("m", version).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.Exclude("m", version).code(), absl::StatusCode::kInvalidArgument);
  }
  for (size_t i = 1; i < kMaxLabelsPerModel; ++i) {
    ASSERT_TRUE(r.SetLabel("m", "l" + std::to_string(i), 1).ok());
  }
  EXPECT_EQ(r.SetLabel("m", "one-too-many", 1).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(r.SetLabel("m", "l1", 1).ok()) << "moving an existing label is not a new one";
}

TEST_F(ModelRegistryTest, LabelsAndDefaultLabelSelectVersions) {
  ModelRegistry r(testing::RegistryOptions("all", {{"m", "stable"}}), &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Served(r), 2);  // no "stable" yet: highest ready
  ASSERT_TRUE(r.SetLabel("m", "stable", 1).ok());
  ASSERT_TRUE(r.SetLabel("m", "canary", 2).ok());
  EXPECT_EQ(Served(r), 1);  // the configured default label wins
  EXPECT_EQ((*r.Get("m", {std::nullopt, "canary", {}}))->card.version, 2);
  EXPECT_EQ(r.Get("m", {std::nullopt, "beta", {}}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.SetLabel("m", "stable", 7).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(r.SetLabel("m", "stable", 0).ok());
  EXPECT_EQ(Served(r), 2);
}

// Issue 11, 'also seen': labels lived in memory only, so after a restart a label-based rollback
// silently fell back to the latest version. Labels are persisted before they change, a
// labelled version is loaded whatever the policy, and it cannot be unloaded while labelled.
TEST_F(ModelRegistryTest, LabelsArePersistedKeepTheirVersionLoadedAndNeverFallBackSilently) {
  std::map<std::string, int64_t> persisted;
  absl::Status persist_result = absl::OkStatus();
  ModelRegistry::Options options = Options({{"m", "stable"}});
  options.persist_labels = [&](const std::string& name,
                               const std::map<std::string, int64_t>& labels) {
    if (persist_result.ok()) persisted = labels;
    return persist_result;
  };
  ModelRegistry r(options, &loader_, &observer_);
  r.Reconcile("m", Disk({1}));
  ASSERT_TRUE(r.SetLabel("m", "stable", 1).ok());
  EXPECT_EQ(persisted, (std::map<std::string, int64_t>{{"stable", 1}}));
  r.Reconcile("m", Disk({1, 2}));  // policy latest 1 wants only 2, the label keeps 1
  EXPECT_EQ(Served(r), 1);
  EXPECT_TRUE(r.Get("m", {2, std::nullopt, {}}).ok());
  absl::Status exclude = r.Exclude("m", 1);
  EXPECT_EQ(exclude.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(exclude.message(), HasSubstr("carries label 'stable'"));

  persist_result = absl::FailedPreconditionError("cannot persist: read-only file system");
  EXPECT_THAT(r.SetLabel("m", "stable", 2).message(), HasSubstr("read-only"));
  EXPECT_EQ(Served(r), 1) << "a label that could not be persisted does not change";

  // A restart: a new registry gets the labels from the file before its first reconcile.
  ModelRegistry restarted(Options({{"m", "stable"}}), &loader_, &observer_);
  restarted.ReplaceLabels("m", persisted);
  restarted.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Served(restarted), 1);
  // A label whose version is gone fails by name instead of moving elsewhere.
  restarted.ReplaceLabels("m", {{"stable", 7}});
  auto dangling = restarted.Get("m", {});
  EXPECT_EQ(dangling.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dangling.status().message(), HasSubstr("no version 7"));
}

TEST_F(ModelRegistryTest, UnknownModelAndVersionAreNotFound) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({3}));
  auto model = r.Get("x", {});
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(model.status().message(), HasSubstr("served models: m"));
  auto version = r.Get("m", {4, std::nullopt, {}});
  EXPECT_EQ(version.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(version.status().message(), HasSubstr("ready versions: 3"));
}

TEST_F(ModelRegistryTest, AdminPinAndExcludeRespectTheLastVersionRule) {
  ModelRegistry r(Options(), &loader_, &observer_);
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(r.Exclude("m", 2).code(), absl::StatusCode::kFailedPrecondition);  // last ready
  ASSERT_TRUE(r.Pin("m", 1).ok());
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_TRUE(r.Get("m", {1, std::nullopt, {}}).ok());  // pinned beyond the policy
  ASSERT_TRUE(r.Exclude("m", 2).ok());
  r.Reconcile("m", Disk({1, 2}));
  EXPECT_EQ(Served(r), 1);
}

}  // namespace
}  // namespace arginator::server
