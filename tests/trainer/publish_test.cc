#include "trainer/publish.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/file_io.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator::trainer {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Writes a marker file holding the version it was written for.
absl::Status WriteMarker(const std::string& dir, int64_t version) {
  return WriteFileDurably(dir + "/model.json", std::to_string(version));
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PublishTest, VersionsCountUpFromOne) {
  TempDir repo;
  auto v1 = PublishVersion(repo.path(), "m", WriteMarker);
  auto v2 = PublishVersion(repo.path(), "m", WriteMarker);
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(*ReadFileToString(repo.Join("m/2/model.json")), "2");
  EXPECT_EQ(Entries(repo.Join("m")), (std::vector<std::string>{"1", "2"}));
}

TEST(PublishTest, NextVersionFollowsTheHighestAndIgnoresHiddenEntries) {
  TempDir repo;
  fs::create_directories(repo.Join("m/7"));
  fs::create_directories(repo.Join("m/.tmp-123-4"));
  fs::create_directories(repo.Join("m/notes"));
  EXPECT_EQ(HighestVersion(repo.Join("m")), 7);
  auto v = PublishVersion(repo.path(), "m", WriteMarker);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->version, 8);
}

TEST(PublishTest, FailedWriteLeavesNothingBehind) {
  TempDir repo;
  auto v = PublishVersion(repo.path(), "m", [](const std::string& dir, int64_t) {
    std::ofstream(dir + "/model.pt") << "half";
    return absl::InternalError("disk full");
  });
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "disk full");
  EXPECT_TRUE(Entries(repo.Join("m")).empty());
}

TEST(PublishTest, ConcurrentPublishesNeverCollide) {
  TempDir repo;
  constexpr int kThreads = 8;
  std::vector<int64_t> versions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto v = PublishVersion(repo.path(), "m", WriteMarker);
      versions[t] = v.ok() ? v->version : -1;
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> distinct(versions.begin(), versions.end());
  EXPECT_EQ(distinct, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  for (int64_t v : distinct) {
    // Each directory's contents were written for the number it was published under.
    EXPECT_EQ(*ReadFileToString(repo.Join("m/" + std::to_string(v) + "/model.json")),
              std::to_string(v));
  }
  EXPECT_EQ(Entries(repo.Join("m")).size(), 8u);  // no temporary directories left
}

TEST(PublishTest, RejectsNamesThatEscapeTheRepository) {
  TempDir repo;
  EXPECT_FALSE(PublishVersion(repo.path(), "../evil", WriteMarker).ok());
  EXPECT_FALSE(PublishVersion(repo.path(), ".hidden", WriteMarker).ok());
  EXPECT_FALSE(PublishVersion(repo.path(), "", WriteMarker).ok());
}

std::string Host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  std::string host(name);
  std::replace(host.begin(), host.end(), '-', '_');
  return host;
}

// A pid no process has: a child that has exited and been reaped.
pid_t DeadPid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// Issue 23, item 7: ten SIGKILLs during publishes left ten .tmp-<pid>-<n> directories that
// nothing ever removed.
TEST(PublishTest, StagingLeftByKilledTrainersIsRemovedByTheNextPublish) {
  TempDir repo;
  const std::string dead = std::to_string(DeadPid());
  const std::string live = std::to_string(::getpid());
  const std::vector<std::string> stale = {".tmp-" + Host() + "-" + dead + "-1",
                                          ".tmp-" + dead + "-2",  // older trainers' name
                                          ".tmp-elsewhere-1-3"};
  const std::vector<std::string> kept = {".tmp-" + Host() + "-" + live + "-4", ".tmp-elsewhere-1-5",
                                         ".tmp-notes"};
  for (const auto& d : stale) fs::create_directories(repo.Join("m/" + d + "/x"));
  for (const auto& d : kept) fs::create_directories(repo.Join("m/" + d));
  // Another host's directory untouched for two days: its trainer is gone.
  fs::last_write_time(repo.Join("m/.tmp-elsewhere-1-3"),
                      fs::file_time_type::clock::now() - std::chrono::hours(48));
  auto v = PublishVersion(repo.path(), "m", WriteMarker);
  ASSERT_TRUE(v.ok()) << v.status();
  std::vector<std::string> expected = kept;
  expected.push_back("1");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Entries(repo.Join("m")), expected);
}

}  // namespace
}  // namespace arginator::trainer
