#include "server/registry/directory_version_loader.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>

#include "common/file_io.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/component_options.h"
#include "tests/testing/fake_model.h"
#include "tests/testing/temp_dir.h"

namespace arginator::server {
namespace {

using testing::FakeModel;
using ::testing::HasSubstr;
using testing::TempDir;

constexpr int kDim = 4;

// Publishes a version directory whose golden probabilities are the FakeModel's.
std::string Publish(const TempDir& repo, const std::string& name, int64_t version,
                    const std::function<void(ModelCard&)>& edit = nullptr) {
  std::string dir = repo.Join(name + "/" + std::to_string(version));
  std::filesystem::create_directories(dir);
  (void)WriteFileDurably(dir + "/model.pt", "weights of " + name);
  ModelCard card;
  card.name = name;
  card.version = version;
  card.task = "binary";
  card.input_dim = kDim;
  card.labels = {"non_betalactamase", "betalactamase"};
  card.model_sha256 = *Sha256File(dir + "/model.pt");
  float x = 0.5f, p = 1.f / (1.f + std::exp(-x));
  card.golden = {{"g1", {x, 0, 0, 0}, {1 - p, p}}};
  if (edit) edit(card);
  (void)WriteFileDurably(dir + "/model.json", ModelCardToJson(card).dump());
  return dir;
}

DirectoryVersionLoader::Options LoaderOptions(int warmup_batches = 1) {
  DirectoryVersionLoader::Options options = VersionLoaderOptions(DefaultServerConfig());
  options.repository.clear();  // the tests' directories are anywhere
  options.warmup_batches = warmup_batches;
  return options;
}

DirectoryVersionLoader MakeLoader(int cols = 2) {
  return DirectoryVersionLoader(
      LoaderOptions(),
      [cols](const std::string&, const ModelCard& card) -> absl::StatusOr<std::unique_ptr<Model>> {
        const int dim = card.input_dim;
        return std::unique_ptr<Model>(new FakeModel(dim, cols));
      },
      [](const std::string&, int64_t, const std::vector<std::string>&) {
        return std::make_shared<VersionObserver>();
      });
}

TEST(VersionLoaderTest, LoadsAVerifiedVersion) {
  TempDir repo;
  auto loader = MakeLoader();
  auto s = loader.Load("m", 1, Publish(repo, "m", 1));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->card.version, 1);
  EXPECT_NE((*s)->batcher, nullptr);
}

// Records the scheduling priority (nice) of each thread that runs a forward.
class PriorityRecordingModel : public FakeModel {
 public:
  using FakeModel::FakeModel;
  absl::Status Forward(RowsView rows, MutableRowsView output) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      nice_.push_back(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))));
    }
    return FakeModel::Forward(rows, output);
  }
  std::vector<int> nice() {
    std::lock_guard<std::mutex> lock(mu_);
    return nice_;
  }

 private:
  std::mutex mu_;
  std::vector<int> nice_;
};

TEST(VersionLoaderTest, VerifiesAtLowPriorityButServesAtNormalPriority) {
  TempDir repo;
  PriorityRecordingModel* model = nullptr;
  DirectoryVersionLoader loader(
      LoaderOptions(/*warmup_batches=*/2),
      [&](const std::string&, const ModelCard& card) -> absl::StatusOr<std::unique_ptr<Model>> {
        const int dim = card.input_dim;
        auto m = std::make_unique<PriorityRecordingModel>(dim);
        model = m.get();
        return std::unique_ptr<Model>(std::move(m));
      },
      [](const std::string&, int64_t, const std::vector<std::string>&) {
        return std::make_shared<VersionObserver>();
      });
  const int serving_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  auto s = loader.Load("m", 1, Publish(repo, "m", 1));
  ASSERT_TRUE(s.ok()) << s.status();
  // Golden check (the batch, then its one example alone) and two warm-ups ran on the loader's
  // background thread.
  EXPECT_THAT(model->nice(), ::testing::Each(serving_nice + 10));
  EXPECT_EQ(model->nice().size(), 4u);
  struct Task : InferenceTask {
    std::vector<float> in = std::vector<float>(kDim, 0.f), out = std::vector<float>(2);
    std::promise<absl::Status> done;
    void Computed(const absl::Status& status) override { done.set_value(status); }
  } task;
  task.inputs = RowsView(task.in.data(), 1, kDim);
  task.outputs = MutableRowsView(task.out.data(), 1, 2);
  ASSERT_TRUE((*s)->batcher->Enqueue(&task).ok());
  ASSERT_TRUE(task.done.get_future().get().ok());
  EXPECT_EQ(model->nice().back(), serving_nice);  // forwards for traffic: traffic's priority
}

// Issue 29: a model whose rows move with their batch-mates (an int8 version quantized per batch)
// is refused at load, whether it moves between one row and the golden batch or between the golden
// batch and max_batch_size rows; the message names the example.
class BatchDependentModel : public FakeModel {
 public:
  BatchDependentModel(int dim, int64_t from_rows) : FakeModel(dim, 2), from_rows_(from_rows) {}
  absl::Status Forward(RowsView rows, MutableRowsView output) override {
    ARG_RETURN_IF_ERROR(FakeModel::Forward(rows, output));
    if (rows.rows >= from_rows_) output.data[0] += 1e-3f;  // first row, first column
    return absl::OkStatus();
  }

 private:
  int64_t from_rows_;
};

TEST(VersionLoaderTest, RefusesAModelWhoseAnswersDependOnTheBatch) {
  TempDir repo;
  const auto two_goldens = [](ModelCard& c) {
    c.golden.push_back(c.golden[0]);
    c.golden[1].id = "g2";
  };
  const auto load = [](int64_t version, const std::string& dir, int64_t from_rows) {
    DirectoryVersionLoader loader(
        LoaderOptions(),
        [&](const std::string&, const ModelCard& card) -> absl::StatusOr<std::unique_ptr<Model>> {
          return std::unique_ptr<Model>(new BatchDependentModel(card.input_dim, from_rows));
        },
        [](const std::string&, int64_t, const std::vector<std::string>&) {
          return std::make_shared<VersionObserver>();
        });
    return loader.Load("m", version, dir).status();
  };
  // The golden batch of two moves g1 (model.json recorded what the batch gives); alone it does
  // not.
  absl::Status s = load(1,
                        Publish(repo, "m", 1,
                                [&](ModelCard& c) {
                                  two_goldens(c);
                                  c.golden[0].probabilities[0] += 1e-3f;
                                }),
                        2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("answers depend on the batch: golden example 'g1' alone gives"));
  // The golden batch and each example alone agree; among max_batch_size rows g1 moves.
  s = load(2, Publish(repo, "m", 2, two_goldens), LoaderOptions().batching.max_batch_size);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("answers depend on the batch: golden example 'g1' gives"));
  EXPECT_THAT(s.message(), HasSubstr("among the 2 golden examples"));
  EXPECT_TRUE(load(3, Publish(repo, "m", 3, two_goldens), 1000000).ok());
}

TEST(VersionLoaderTest, RefusesAModelFileThatDoesNotMatchItsSha256) {
  TempDir repo;
  std::string dir = Publish(repo, "m", 1);
  std::ofstream(dir + "/model.pt", std::ios::app) << "tampered";
  auto s = MakeLoader().Load("m", 1, dir);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.status().message(), HasSubstr("sha256"));
}

// Issue 11, item 2: a model.pt linked to /dev/zero or a model.json that is a FIFO kept the load
// (and the watcher behind it) running forever.
TEST(VersionLoaderTest, RefusesFifosDevicesAndOversizedFilesWithoutReadingThem) {
  TempDir repo;
  std::string fifo_dir = Publish(repo, "m", 1);
  std::filesystem::remove(fifo_dir + "/model.json");
  ASSERT_EQ(mkfifo((fifo_dir + "/model.json").c_str(), 0644), 0);
  auto fifo = MakeLoader().Load("m", 1, fifo_dir);
  EXPECT_EQ(fifo.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fifo.status().message(), HasSubstr("not a regular file"));

  std::string zero_dir = Publish(repo, "m", 2);
  std::filesystem::remove(zero_dir + "/model.pt");
  std::filesystem::create_symlink("/dev/zero", zero_dir + "/model.pt");
  auto zero = MakeLoader().Load("m", 2, zero_dir);
  EXPECT_THAT(zero.status().message(), HasSubstr("not a regular file"));

  DirectoryVersionLoader::Options tiny = LoaderOptions();
  tiny.max_model_bytes = 4;
  DirectoryVersionLoader small(
      tiny,
      [](const std::string&, const ModelCard& card) -> absl::StatusOr<std::unique_ptr<Model>> {
        const int dim = card.input_dim;
        return std::unique_ptr<Model>(new FakeModel(dim));
      },
      [](const std::string&, int64_t, const std::vector<std::string>&) {
        return std::make_shared<VersionObserver>();
      });
  auto big = small.Load("m", 3, Publish(repo, "m", 3));
  EXPECT_THAT(big.status().message(), HasSubstr("more than the limit of 4"));
}

TEST(VersionLoaderTest, RefusesGoldenMismatchWrongWidthAndMisplacedCards) {
  TempDir repo;
  auto golden = MakeLoader().Load("m", 1, Publish(repo, "m", 1, [](ModelCard& c) {
                                    c.golden[0].probabilities = {0.9f, 0.1f};
                                  }));
  EXPECT_THAT(golden.status().message(), HasSubstr("golden example 'g1'"));

  auto width = MakeLoader(/*cols=*/5).Load("m", 2, Publish(repo, "m", 2));
  EXPECT_THAT(width.status().message(), HasSubstr("outputs 5 columns"));

  auto misplaced =
      MakeLoader().Load("m", 3, Publish(repo, "m", 3, [](ModelCard& c) { c.version = 4; }));
  EXPECT_THAT(misplaced.status().message(), HasSubstr("sits at m/3"));

  std::string dir = Publish(repo, "m", 5);
  std::ofstream(dir + "/model.json", std::ios::trunc) << "{not json";
  EXPECT_THAT(MakeLoader().Load("m", 5, dir).status().message(), HasSubstr("invalid JSON"));
}

TEST(VersionLoaderTest, FactoryErrorsAreReported) {
  TempDir repo;
  DirectoryVersionLoader loader(
      LoaderOptions(),
      [](const std::string& path, const ModelCard&) -> absl::StatusOr<std::unique_ptr<Model>> {
        return absl::InvalidArgumentError(path + ": not a loadable TorchScript file");
      },
      [](const std::string&, int64_t, const std::vector<std::string>&) {
        return std::make_shared<VersionObserver>();
      });
  auto s = loader.Load("m", 1, Publish(repo, "m", 1));
  EXPECT_THAT(s.status().message(), HasSubstr("not a loadable TorchScript"));
}

// Issue 11, item 2: a load that never finishes (a TorchScript forward that loops, a stalled
// mount) froze the watcher forever, and SIGTERM waited on it. Now it fails at the timeout, the
// loader goes on with the next version, and Stop() ends a load in progress at once.
class HeldFactory {
 public:
  ModelFactory factory() {
    return [this](const std::string&,
                  const ModelCard& card) -> absl::StatusOr<std::unique_ptr<Model>> {
      const int dim = card.input_dim;
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      return std::unique_ptr<Model>(new FakeModel(dim));
    };
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

TEST(VersionLoaderTest, ALoadPastItsTimeoutFailsAndIsAbandoned) {
  TempDir repo;
  auto held = std::make_shared<HeldFactory>();  // outlives the abandoned thread's use of it
  DirectoryVersionLoader::Options options = LoaderOptions();
  // Long enough for the second, unblocked load below to finish on a loaded machine under TSan
  // (200ms did not: that load was abandoned too, and its thread outlived the test).
  options.load_timeout = absl::Seconds(2);
  DirectoryVersionLoader loader(
      options, [held](const std::string& p, const ModelCard& c) { return held->factory()(p, c); },
      [](const std::string&, int64_t, const std::vector<std::string>&) {
        return std::make_shared<VersionObserver>();
      });
  const absl::Time start = absl::Now();
  auto stuck = loader.Load("m", 1, Publish(repo, "m", 1));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(stuck.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(stuck.status().message(), HasSubstr("did not finish within 2s"));
  EXPECT_THAT(stuck.status().message(), HasSubstr("models.load_timeout_s"));
  EXPECT_EQ(loader.abandoned(), 1);

  held->Release();  // the abandoned thread returns; its late result is dropped
  for (int i = 0; i < 500 && loader.abandoned() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(loader.abandoned(), 0);
  auto next = loader.Load("m", 2, Publish(repo, "m", 2));
  EXPECT_TRUE(next.ok()) << next.status();
}

TEST(VersionLoaderTest, StopEndsALoadInProgressAndRefusesNewOnes) {
  TempDir repo;
  auto held = std::make_shared<HeldFactory>();
  DirectoryVersionLoader loader(
      LoaderOptions(),
      [held](const std::string& p, const ModelCard& c) { return held->factory()(p, c); },
      [](const std::string&, int64_t, const std::vector<std::string>&) {
        return std::make_shared<VersionObserver>();
      });
  const std::string dir = Publish(repo, "m", 1);
  auto loading = std::async(std::launch::async, [&] { return loader.Load("m", 1, dir); });
  held->WaitEntered(1);
  loader.Stop();  // with the default 5-minute timeout, only Stop can end this wait
  EXPECT_EQ(loading.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(loader.Load("m", 1, dir).status().code(), absl::StatusCode::kCancelled);
  held->Release();
}

// Issue 11, 'also seen': a version directory linked to outside the repository was followed and
// served. Files must resolve inside the repository unless links_outside_repository is set.
TEST(VersionLoaderTest, FilesResolvingOutsideTheRepositoryAreRefusedUnlessAllowed) {
  TempDir repo, elsewhere;
  auto loader = [&](bool allow) {
    DirectoryVersionLoader::Options options = LoaderOptions();
    options.repository = repo.path();
    options.links_outside_repository = allow;
    return DirectoryVersionLoader(
        options,
        [](const std::string&, const ModelCard& card) -> absl::StatusOr<std::unique_ptr<Model>> {
          const int dim = card.input_dim;
          return std::unique_ptr<Model>(new FakeModel(dim));
        },
        [](const std::string&, int64_t, const std::vector<std::string>&) {
          return std::make_shared<VersionObserver>();
        });
  };
  const std::string outside = Publish(elsewhere, "m", 1);
  std::filesystem::create_directories(repo.Join("m"));
  std::filesystem::create_directory_symlink(outside, repo.Join("m/1"));
  auto linked_dir = loader(false).Load("m", 1, repo.Join("m/1"));
  EXPECT_EQ(linked_dir.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(linked_dir.status().message(), HasSubstr("outside the model repository"));
  EXPECT_THAT(linked_dir.status().message(), HasSubstr("models.links_outside_repository"));

  const std::string dir = Publish(repo, "m", 2);
  std::filesystem::rename(dir + "/model.pt", elsewhere.Join("weights"));
  std::filesystem::create_symlink(elsewhere.Join("weights"), dir + "/model.pt");
  EXPECT_THAT(loader(false).Load("m", 2, dir).status().message(),
              HasSubstr("outside the model repository"));

  // Links that stay inside the repository are fine, and the operator may allow the others.
  const std::string inside = Publish(repo, "m", 3);
  std::filesystem::rename(inside + "/model.pt", repo.Join("m/weights-3"));
  std::filesystem::create_symlink("../weights-3", inside + "/model.pt");
  auto linked_inside = loader(false).Load("m", 3, inside);
  EXPECT_TRUE(linked_inside.ok()) << linked_inside.status();
  EXPECT_TRUE(loader(true).Load("m", 1, repo.Join("m/1")).ok());
  EXPECT_TRUE(loader(true).Load("m", 2, dir).ok());
}

}  // namespace
}  // namespace arginator::server
