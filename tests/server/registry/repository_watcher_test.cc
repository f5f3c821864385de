#include "server/registry/repository_watcher.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_loader.h"
#include "tests/testing/temp_dir.h"

namespace arginator::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using testing::FakeLoader;
using testing::TempDir;

class RepositoryWatcherTest : public ::testing::Test {
 protected:
  RepositoryWatcherTest()
      : registry_(testing::RegistryOptions(), &loader_, &observer_),
        watcher_(repo_.path(), absl::Seconds(60), &registry_, nullptr) {}

  // A complete version directory (the fake loader reads neither file).
  void Publish(const std::string& name, int64_t version) {
    const fs::path dir = fs::path(repo_.path()) / name / std::to_string(version);
    fs::create_directories(dir);
    std::ofstream(dir / "model.json") << "{}";
    std::ofstream(dir / "model.pt") << "weights";
  }
  std::vector<std::string> ListedModels() {
    std::vector<std::string> names;
    for (const ModelView& m : registry_.Snapshot()) names.push_back(m.name);
    return names;
  }

  TempDir repo_;
  FakeLoader loader_;
  RegistryObserver observer_;
  ModelRegistry registry_;
  RepositoryWatcher watcher_;
};

// Issue 11, item 1: a symlink loop made the watcher thread throw filesystem_error (SIGABRT).
TEST_F(RepositoryWatcherTest, SymlinkLoopsAreSkippedNotFatal) {
  Publish("m", 1);
  fs::create_symlink("98", fs::path(repo_.path()) / "m" / "98");
  fs::create_symlink("loopy", fs::path(repo_.path()) / "loopy");
  fs::create_symlink("/nonexistent/target", fs::path(repo_.path()) / "m" / "99");
  ASSERT_NO_THROW(watcher_.PollOnce());
  auto served = registry_.Get("m", {});
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ((*served)->card.version, 1);
  EXPECT_THAT(ListedModels(), ElementsAre("m"));
}

// Issue 11, item 5: an empty directory became a model without a ready version (readiness
// NOT_SERVING) and stayed one after it was removed.
TEST_F(RepositoryWatcherTest, ADirectoryWithoutACompleteVersionIsNotAModel) {
  Publish("m", 1);
  fs::create_directories(fs::path(repo_.path()) / "scratch");
  fs::create_directories(fs::path(repo_.path()) / "half" / "1");  // no files yet
  watcher_.PollOnce();
  EXPECT_THAT(watcher_.models(), ElementsAre("m"));
  EXPECT_THAT(ListedModels(), ElementsAre("m"));
  EXPECT_TRUE(registry_.AllReady({"m"}));

  fs::remove(fs::path(repo_.path()) / "scratch");
  Publish("half", 1);  // completed later: now it is a model
  watcher_.PollOnce();
  EXPECT_THAT(watcher_.models(), ElementsAre("half", "m"));
}

TEST_F(RepositoryWatcherTest, AModelWhoseOnlyVersionFailedAndWasRemovedIsForgotten) {
  Publish("m", 1);
  loader_.failing = {3};
  Publish("bad", 3);
  watcher_.PollOnce();
  EXPECT_THAT(watcher_.models(), ElementsAre("bad", "m"));
  EXPECT_FALSE(registry_.AllReady({"bad"}));

  fs::remove_all(fs::path(repo_.path()) / "bad");
  watcher_.PollOnce();
  EXPECT_THAT(watcher_.models(), ElementsAre("m"));
  EXPECT_THAT(ListedModels(), ElementsAre("m"));

  // A model whose directory vanishes keeps serving its last ready version, as before.
  fs::remove_all(fs::path(repo_.path()) / "m");
  watcher_.PollOnce();
  EXPECT_TRUE(registry_.Get("m", {}).ok());
  EXPECT_THAT(watcher_.models(), ElementsAre("m"));
}

TEST_F(RepositoryWatcherTest, ALabelsFileIsAppliedWhenItChangesAndABadOneIsIgnored) {
  Publish("m", 1);
  Publish("m", 2);
  watcher_.PollOnce();
  EXPECT_EQ((*registry_.Get("m", {}))->card.version, 2);
  const fs::path labels = fs::path(repo_.path()) / "m" / "labels.json";
  std::ofstream(labels) << R"({"stable": 1})";
  watcher_.PollOnce();
  auto stable = registry_.Get("m", {std::nullopt, "stable", {}});
  ASSERT_TRUE(stable.ok()) << stable.status();
  EXPECT_EQ((*stable)->card.version, 1) << "loaded for its label, although the policy is latest 1";
  std::ofstream(labels, std::ios::trunc) << "{not json";
  watcher_.PollOnce();
  EXPECT_TRUE(registry_.Get("m", {std::nullopt, "stable", {}}).ok())
      << "a bad file changes nothing";
  fs::remove(labels);
  watcher_.PollOnce();
  EXPECT_EQ(registry_.Get("m", {std::nullopt, "stable", {}}).status().code(),
            absl::StatusCode::kNotFound);
}

// Issue 23, item 9: a dangling or looping labels.json symlink read as "no file" and cleared every
// label of the model; like any unreadable file it changes nothing now.
TEST_F(RepositoryWatcherTest, ADanglingOrLoopingLabelsLinkKeepsTheLabels) {
  Publish("m", 1);
  Publish("m", 2);
  const fs::path labels = fs::path(repo_.path()) / "m" / "labels.json";
  std::ofstream(labels) << R"({"stable": 1})";
  watcher_.PollOnce();
  ASSERT_TRUE(registry_.Get("m", {std::nullopt, "stable", {}}).ok());
  fs::remove(labels);
  fs::create_symlink(fs::path(repo_.path()) / "nowhere.json", labels);
  watcher_.PollOnce();
  EXPECT_TRUE(registry_.Get("m", {std::nullopt, "stable", {}}).ok()) << "a dangling link";
  fs::remove(labels);
  fs::create_symlink(labels, labels);
  watcher_.PollOnce();
  EXPECT_TRUE(registry_.Get("m", {std::nullopt, "stable", {}}).ok()) << "a link to itself";
}

}  // namespace
}  // namespace arginator::server
