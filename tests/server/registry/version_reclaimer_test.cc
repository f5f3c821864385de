#include "server/registry/version_reclaimer.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;

// Records the thread that destroys it.
struct Destroyed {
  std::atomic<int> count{0};
  std::thread::id thread;
};

std::shared_ptr<ServableVersion> Version(int64_t number, Destroyed* destroyed) {
  struct Tracked : ServableVersion {
    Destroyed* destroyed = nullptr;
    ~Tracked() {
      destroyed->thread = std::this_thread::get_id();
      ++destroyed->count;
    }
  };
  auto v = std::make_shared<Tracked>();
  v->card.name = "m";
  v->card.version = number;
  v->destroyed = destroyed;
  return v;
}

TEST(VersionReclaimerTest, TheLastReleaseSignalsAndTheReclaimersThreadDestroys) {
  std::vector<int64_t> reclaimed;  // written on the reclaimer's thread, read after Flush
  VersionReclaimer reclaimer([&](const std::string& name, int64_t v) { reclaimed.push_back(v); });
  Destroyed destroyed;
  std::shared_ptr<ServableVersion> served = reclaimer.Track(Version(1, &destroyed));
  std::shared_ptr<const ServableVersion> request = served;  // an in-flight request's handle
  served.reset();                                           // the registry unloads it
  reclaimer.Flush();
  EXPECT_EQ(destroyed.count, 0) << "a request still holds it";
  EXPECT_TRUE(reclaimed.empty());
  EXPECT_EQ(request->card.version, 1);
  request.reset();  // the request completes: the release signal
  reclaimer.Flush();
  EXPECT_EQ(destroyed.count, 1);
  EXPECT_NE(destroyed.thread, std::this_thread::get_id()) << "not on the releasing thread";
  EXPECT_THAT(reclaimed, ElementsAre(1));
}

TEST(VersionReclaimerTest, ReleasesFromManyThreadsAreEachReclaimedOnce) {
  std::atomic<int> reports{0};
  VersionReclaimer reclaimer([&](const std::string&, int64_t) { ++reports; });
  constexpr int kVersions = 50;
  std::vector<Destroyed> destroyed(kVersions);
  std::vector<std::thread> threads;
  for (int i = 0; i < kVersions; ++i) {
    std::shared_ptr<ServableVersion> v = reclaimer.Track(Version(i, &destroyed[i]));
    threads.emplace_back(
        [handle = std::shared_ptr<const ServableVersion>(v)]() mutable { handle.reset(); });
  }
  for (auto& t : threads) t.join();
  reclaimer.Flush();
  EXPECT_EQ(reports, kVersions);
  for (const Destroyed& d : destroyed) EXPECT_EQ(d.count, 1);
}

TEST(VersionReclaimerTest, AReleaseAfterShutdownDestroysOnTheReleasingThread) {
  Destroyed destroyed;
  std::shared_ptr<const ServableVersion> late;
  {
    VersionReclaimer reclaimer([](const std::string&, int64_t) {});
    late = reclaimer.Track(Version(1, &destroyed));
  }
  late.reset();
  EXPECT_EQ(destroyed.count, 1);
  EXPECT_EQ(destroyed.thread, std::this_thread::get_id());
}

TEST(MemoryTrimmerTest, TrimsOnceAfterUnloadsHaveBeenQuiet) {
  testing::FakeClock clock;
  int trims = 0;
  MemoryTrimmer trimmer(clock, absl::Seconds(2), [&] { ++trims; });
  EXPECT_FALSE(trimmer.TrimIfQuiet()) << "nothing freed";
  EXPECT_EQ(trimmer.UntilDue(), absl::InfiniteDuration());
  trimmer.Freed();
  clock.Advance(absl::Milliseconds(1500));
  trimmer.Freed();  // a burst of swaps: the quiet period starts again
  EXPECT_EQ(trimmer.UntilDue(), absl::Seconds(2));
  clock.Advance(absl::Milliseconds(1999));
  EXPECT_FALSE(trimmer.TrimIfQuiet());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(trimmer.UntilDue(), absl::ZeroDuration());
  EXPECT_TRUE(trimmer.TrimIfQuiet());
  EXPECT_FALSE(trimmer.TrimIfQuiet()) << "once per quiet period";
  EXPECT_EQ(trims, 1);
}

}  // namespace
}  // namespace arginator::server
