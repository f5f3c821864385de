#include "server/batching/dynamic_batcher.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/batching.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_model.h"

namespace arginator::server {
namespace {

using testing::Batching;
using ::testing::ElementsAre;
using testing::FakeModel;

constexpr int kDim = 4;

// A task of n rows whose first value is first_value + the row's index, so outputs identify rows;
// owns its buffers and reports Computed through a future.
class TestTask : public InferenceTask {
 public:
  explicit TestTask(int64_t n, float first_value = 0,
                    absl::Time task_deadline = absl::InfiniteFuture())
      : in_(n * kDim, 0.f), out_(n * 2, -1.f), result_(done_.get_future()) {
    for (int64_t i = 0; i < n; ++i) in_[i * kDim] = first_value + static_cast<float>(i);
    inputs = RowsView(in_.data(), n, kDim);
    outputs = MutableRowsView(out_.data(), n, 2);
    deadline = task_deadline;
  }
  void Computed(const absl::Status& status) override {
    done_thread_ = std::this_thread::get_id();
    done_.set_value(status);
  }
  absl::Status Result() { return result_.get(); }  // waits; once
  bool IsDone() { return result_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  float P1(int64_t row) const { return out_[row * 2 + 1]; }
  std::thread::id done_thread() const { return done_thread_; }

 private:
  std::vector<float> in_, out_;
  std::promise<absl::Status> done_;
  std::future<absl::Status> result_;
  std::thread::id done_thread_;
};

float Sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// Enqueues `task` on a thread of its own, which (the batcher being idle) becomes the executor
// and blocks in the model while its gate is closed.
std::thread EnqueueFromAnotherThread(DynamicBatcher& batcher, TestTask& task) {
  return std::thread([&] { EXPECT_TRUE(batcher.Enqueue(&task).ok()); });
}

TEST(DynamicBatcherTest, AnIdleBatcherRunsTheForwardOnTheCallersThread) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, Batching().MaxBatch(8).QueueRows(100));
  TestTask task(3, 1);
  ASSERT_TRUE(batcher.Enqueue(&task).ok());
  EXPECT_TRUE(task.IsDone()) << "computed before Enqueue returned";
  EXPECT_TRUE(task.Result().ok());
  EXPECT_FLOAT_EQ(task.P1(2), Sigmoid(3));
  EXPECT_THAT(model->threads(), ElementsAre(std::this_thread::get_id()));
  EXPECT_EQ(task.done_thread(), std::this_thread::get_id());
}

TEST(DynamicBatcherTest, MoreRowsThanInlineMaxRunOnTheWorkerNotTheCaller) {
  auto model = std::make_shared<FakeModel>(kDim);
  BatcherOptions options = Batching().MaxBatch(8).QueueRows(100);
  options.inline_max_rows = 4;
  DynamicBatcher batcher(model, options);
  TestTask small(4, 0), bulk(10, 100);
  ASSERT_TRUE(batcher.Enqueue(&small).ok());
  EXPECT_TRUE(small.IsDone()) << "at the limit: run inline";
  ASSERT_TRUE(batcher.Enqueue(&bulk).ok());
  ASSERT_TRUE(bulk.Result().ok());
  EXPECT_NE(bulk.done_thread(), std::this_thread::get_id());
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(bulk.P1(i), Sigmoid(static_cast<float>(100 + i)));
  EXPECT_THAT(model->batch_sizes(), ElementsAre(4, 8, 2));
  const auto threads = model->threads();
  EXPECT_EQ(threads[0], std::this_thread::get_id());
  EXPECT_NE(threads[1], std::this_thread::get_id());
  EXPECT_EQ(threads[1], threads[2]) << "the worker ran both batches of the bulk task";
  batcher.Stop();
}

TEST(DynamicBatcherTest, StopWaitsForTheWorkersForward) {
  auto model = std::make_shared<FakeModel>(kDim);
  BatcherOptions options = Batching().MaxBatch(8).QueueRows(100);
  options.inline_max_rows = 2;
  DynamicBatcher batcher(model, options);
  model->CloseGate();
  TestTask bulk(6);
  ASSERT_TRUE(batcher.Enqueue(&bulk).ok());  // handed to the worker: returns at once
  model->WaitEntered(1);
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(20));
    model->OpenGate();
  });
  batcher.Stop();
  EXPECT_TRUE(bulk.IsDone());
  opener.join();
  EXPECT_TRUE(bulk.Result().ok());
}

TEST(DynamicBatcherTest, WithoutADelayRowsQueuedDuringAForwardFormTheNextBatch) {
  // The shipped default (max_queue_delay 0): an idle model runs a lone row at once, and whatever
  // arrives while it computes is batched together next, by the thread already computing: the
  // callers that queued return at once without running anything.
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, Batching().MaxBatch(8).QueueRows(100));
  model->CloseGate();
  TestTask first(1);
  std::thread executor = EnqueueFromAnotherThread(batcher, first);
  model->WaitEntered(1);
  std::vector<std::unique_ptr<TestTask>> rest;
  for (int i = 0; i < 5; ++i) {
    rest.push_back(std::make_unique<TestTask>(2, 10 * i));
    ASSERT_TRUE(batcher.Enqueue(rest.back().get()).ok());
    EXPECT_FALSE(rest.back()->IsDone());
  }
  model->OpenGate();
  executor.join();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(rest[i]->Result().ok());
    EXPECT_FLOAT_EQ(rest[i]->P1(1), Sigmoid(static_cast<float>(10 * i + 1)));  // its second row
  }
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 8, 2));  // 10 queued rows, at most 8 per batch
  for (std::thread::id id : model->threads()) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(DynamicBatcherTest, TheRowScorerRunsOncePerBatchAndEachTaskGetsItsOwnRowsScores) {
  // The scorer sees each batch's rows together (the density projections share their basis
  // reads), and every task gets the scores of its own rows, a task split across batches too.
  auto model = std::make_shared<FakeModel>(kDim);
  std::vector<int64_t> scored_batches;  // the executor's only: the gate orders the accesses
  RowScorer scorer = [&](RowsView rows, double* scores) {
    scored_batches.push_back(rows.rows);
    for (int64_t i = 0; i < rows.rows; ++i) scores[i] = 1000.0 + rows.row(i)[0];
  };
  DynamicBatcher batcher(model, Batching().MaxBatch(8).QueueRows(100), nullptr, nullptr,
                         Clock::Real(), scorer);
  model->CloseGate();
  TestTask first(1, 7);
  std::vector<double> first_scores(1, -1);
  first.row_scores = first_scores.data();
  std::thread executor = EnqueueFromAnotherThread(batcher, first);
  model->WaitEntered(1);
  // 3 + 4 + 3 rows queued behind it: batches of 8 (3, 4 and one row of the last) and 2.
  std::vector<std::unique_ptr<TestTask>> rest;
  std::vector<std::vector<double>> scores;
  for (int n : {3, 4, 3}) {
    rest.push_back(std::make_unique<TestTask>(n, 100.f * static_cast<float>(rest.size() + 1)));
    scores.emplace_back(static_cast<size_t>(n), -1.0);
    rest.back()->row_scores = scores.back().data();
  }
  TestTask unscored(2, 500);  // wants no scores: nothing is written for it
  for (auto& task : rest) ASSERT_TRUE(batcher.Enqueue(task.get()).ok());
  ASSERT_TRUE(batcher.Enqueue(&unscored).ok());
  model->OpenGate();
  executor.join();
  ASSERT_TRUE(first.Result().ok());
  EXPECT_EQ(first_scores[0], 1007.0);
  for (size_t t = 0; t < rest.size(); ++t) {
    ASSERT_TRUE(rest[t]->Result().ok());
    for (size_t i = 0; i < scores[t].size(); ++i) {
      EXPECT_EQ(scores[t][i], 1000.0 + 100.0 * static_cast<double>(t + 1) + static_cast<double>(i))
          << "task " << t << " row " << i;
    }
  }
  ASSERT_TRUE(unscored.Result().ok());
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 8, 4));
  EXPECT_THAT(scored_batches, ElementsAre(1, 8, 4));

  // A failed forward scores nothing.
  model->set_fail(true);
  TestTask failed(2);
  std::vector<double> failed_scores(2, -1);
  failed.row_scores = failed_scores.data();
  ASSERT_TRUE(batcher.Enqueue(&failed).ok());
  EXPECT_FALSE(failed.Result().ok());
  EXPECT_THAT(failed_scores, ElementsAre(-1, -1));
  EXPECT_EQ(scored_batches.size(), 3u);
}

TEST(DynamicBatcherTest, ALargeBatchIsScoredBesideItsForward) {
  // From kScoreAsideRows rows the scores are computed on the scoring thread while the forward
  // runs: here the scorer finishes while the forward is still held in the model's gate.
  auto model = std::make_shared<FakeModel>(kDim);
  std::atomic<int> scored{0};
  std::thread::id scorer_thread;  // written before `scored` counts, read after
  RowScorer scorer = [&](RowsView rows, double* scores) {
    for (int64_t i = 0; i < rows.rows; ++i) scores[i] = 1000.0 + rows.row(i)[0];
    scorer_thread = std::this_thread::get_id();
    ++scored;
  };
  const int64_t n = DynamicBatcher::kScoreAsideRows + 3;
  DynamicBatcher batcher(model, Batching().MaxBatch(static_cast<int>(n)).QueueRows(2 * n), nullptr,
                         nullptr, Clock::Real(), scorer);
  model->CloseGate();
  TestTask bulk(n, 5);
  std::vector<double> scores(static_cast<size_t>(n), -1);
  bulk.row_scores = scores.data();
  std::thread executor = EnqueueFromAnotherThread(batcher, bulk);
  model->WaitEntered(1);
  for (int i = 0; i < 500 && scored == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(scored, 1) << "scored while the forward is still running";
  EXPECT_FALSE(bulk.IsDone());
  model->OpenGate();
  executor.join();
  ASSERT_TRUE(bulk.Result().ok());
  EXPECT_NE(scorer_thread, model->threads().at(0)) << "the forward's thread did not score";
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(scores[i], 1005.0 + static_cast<double>(i));

  // A failed forward's scores are computed beside it but not given to its task.
  model->set_fail(true);
  TestTask failed(n);
  std::vector<double> failed_scores(static_cast<size_t>(n), -1);
  failed.row_scores = failed_scores.data();
  ASSERT_TRUE(batcher.Enqueue(&failed).ok());
  EXPECT_FALSE(failed.Result().ok());
  EXPECT_EQ(failed_scores[0], -1);
  EXPECT_EQ(failed_scores[n - 1], -1);
}

TEST(DynamicBatcherTest, RowsQueuedWhileTheExecutorYieldsJoinItsBatch) {
  // The yield stands in for another thread that already holds a request: it enqueues while the
  // executor has given up its core, before the batch is taken.
  auto model = std::make_shared<FakeModel>(kDim);
  TestTask first(1, 0), second(2, 10);
  DynamicBatcher* self = nullptr;
  int yields = 0;
  DynamicBatcher batcher(model, Batching().MaxBatch(8).QueueRows(100).Yields(2), nullptr, [&] {
    if (yields++ == 0) {
      EXPECT_TRUE(self->Enqueue(&second).ok());
    }
  });
  self = &batcher;
  ASSERT_TRUE(batcher.Enqueue(&first).ok());
  ASSERT_TRUE(first.Result().ok());
  ASSERT_TRUE(second.Result().ok());
  EXPECT_FLOAT_EQ(second.P1(1), Sigmoid(11));
  EXPECT_THAT(model->batch_sizes(), ElementsAre(3));  // one forward for both
  EXPECT_EQ(yields, 2) << "yields only while there is a batch to grow, not on an empty queue";

  // executor_yields 0: the lone row runs at once.
  auto alone = std::make_shared<FakeModel>(kDim);
  int never = 0;
  DynamicBatcher no_yields(alone, Batching().MaxBatch(8).QueueRows(100).Yields(0), nullptr,
                           [&] { ++never; });
  TestTask task(1);
  ASSERT_TRUE(no_yields.Enqueue(&task).ok());
  EXPECT_TRUE(task.Result().ok());
  EXPECT_EQ(never, 0);
}

TEST(DynamicBatcherTest, ConcurrentRequestsShareOneForwardWithAQueueDelay) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, Batching().MaxBatch(8).Delay(absl::Milliseconds(5)).QueueRows(100));
  model->CloseGate();
  TestTask first(1);
  ASSERT_TRUE(batcher.Enqueue(&first).ok());  // the batcher thread computes: this returns
  model->WaitEntered(1);
  std::vector<std::unique_ptr<TestTask>> rest;
  for (int i = 0; i < 4; ++i) {
    rest.push_back(std::make_unique<TestTask>(1, i + 1));
    ASSERT_TRUE(batcher.Enqueue(rest.back().get()).ok());
  }
  model->OpenGate();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(rest[i]->Result().ok());
    EXPECT_FLOAT_EQ(rest[i]->P1(0), Sigmoid(static_cast<float>(i + 1)));  // each got its own row
  }
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 4));
}

TEST(DynamicBatcherTest, ALoneRequestRunsAfterTheQueueDelay) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model,
                         Batching().MaxBatch(64).Delay(absl::Milliseconds(20)).QueueRows(100));
  TestTask task(1);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(batcher.Enqueue(&task).ok());
  ASSERT_TRUE(task.Result().ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(19));  // waited for company, then ran alone
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1));
}

TEST(DynamicBatcherTest, LargeRequestIsSplitAcrossBatchesInOrder) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, Batching().MaxBatch(4).QueueRows(100));
  TestTask task(10);
  ASSERT_TRUE(batcher.Enqueue(&task).ok());
  ASSERT_TRUE(task.Result().ok());
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(task.P1(i), Sigmoid(static_cast<float>(i)));
  EXPECT_THAT(model->batch_sizes(), ElementsAre(4, 4, 2));
}

TEST(DynamicBatcherTest, FullQueueIsResourceExhausted) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, Batching().MaxBatch(2).QueueRows(4));
  model->CloseGate();
  TestTask a(2), b(4), c(1);
  std::thread executor = EnqueueFromAnotherThread(batcher, a);
  model->WaitEntered(1);
  ASSERT_TRUE(batcher.Enqueue(&b).ok());  // fills the queue
  absl::Status full = batcher.Enqueue(&c);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), ::testing::HasSubstr("queue full"));
  model->OpenGate();
  executor.join();
  EXPECT_TRUE(b.Result().ok());  // nothing queued was lost
  EXPECT_FALSE(c.IsDone());      // a refused task is never completed
}

TEST(DynamicBatcherTest, ExpiredRequestsAreDroppedBeforeCompute) {
  auto model = std::make_shared<FakeModel>(kDim);
  testing::FakeClock clock;
  DynamicBatcher batcher(model, Batching().MaxBatch(8).QueueRows(100), nullptr, nullptr, clock);
  model->CloseGate();
  TestTask first(1), late(3, 0, clock.Now() + absl::Milliseconds(1));
  std::thread executor = EnqueueFromAnotherThread(batcher, first);
  model->WaitEntered(1);
  ASSERT_TRUE(batcher.Enqueue(&late).ok());
  clock.Advance(absl::Milliseconds(2));  // while the first forward runs
  model->OpenGate();
  executor.join();
  EXPECT_TRUE(first.Result().ok());
  EXPECT_EQ(late.Result().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1));  // the late rows never reached the model
}

TEST(DynamicBatcherTest, BatchingOffRunsOneRequestPerForward) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(
      model, Batching().MaxBatch(8).Delay(absl::Milliseconds(5)).QueueRows(100).Enabled(false));
  model->CloseGate();
  std::vector<std::unique_ptr<TestTask>> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(std::make_unique<TestTask>(1));
  std::thread executor = EnqueueFromAnotherThread(batcher, *tasks[0]);
  model->WaitEntered(1);
  for (int i = 1; i < 4; ++i) ASSERT_TRUE(batcher.Enqueue(tasks[i].get()).ok());
  model->OpenGate();
  executor.join();
  for (auto& t : tasks) EXPECT_TRUE(t->Result().ok());
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 1, 1, 1));
}

TEST(DynamicBatcherTest, ModelErrorReachesEveryTaskInTheBatch) {
  auto model = std::make_shared<FakeModel>(kDim);
  model->set_fail(true);
  DynamicBatcher batcher(model, Batching().MaxBatch(8).Delay(absl::Milliseconds(2)).QueueRows(100));
  TestTask a(1), b(1);
  ASSERT_TRUE(batcher.Enqueue(&a).ok());
  ASSERT_TRUE(batcher.Enqueue(&b).ok());
  EXPECT_EQ(a.Result().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(b.Result().code(), absl::StatusCode::kInternal);
}

// Issue 11, item 10: the output width was trusted after load; a model answering some inputs with
// another width made the server read past its output. Every forward's width is checked.
TEST(DynamicBatcherTest, AForwardWithTheWrongOutputWidthFailsItsTasksWithInternal) {
  auto model = std::make_shared<FakeModel>(kDim, /*cols=*/5);
  DynamicBatcher batcher(model, Batching().MaxBatch(8).QueueRows(100));
  TestTask task(3);  // expects 2 columns
  ASSERT_TRUE(batcher.Enqueue(&task).ok());
  absl::Status s = task.Result();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("outputs 5 columns per row"));
}

TEST(DynamicBatcherTest, AFailedSplitTaskIsNotComputedFurther) {
  auto model = std::make_shared<FakeModel>(kDim);
  model->set_fail(true);
  DynamicBatcher batcher(model, Batching().MaxBatch(4).QueueRows(100));
  TestTask task(10);
  ASSERT_TRUE(batcher.Enqueue(&task).ok());
  EXPECT_EQ(task.Result().code(), absl::StatusCode::kInternal);
  batcher.Stop();  // the remaining 6 rows were dropped, not run
  EXPECT_THAT(model->batch_sizes(), ElementsAre(4));
  EXPECT_EQ(batcher.queued_rows(), 0);
}

TEST(DynamicBatcherTest, StopFinishesQueuedWorkThenRefusesMore) {
  for (absl::Duration delay : {absl::ZeroDuration(), absl::Milliseconds(1)}) {
    auto model = std::make_shared<FakeModel>(kDim);
    DynamicBatcher batcher(model, Batching().MaxBatch(2).Delay(delay).QueueRows(100));
    model->CloseGate();
    std::vector<std::unique_ptr<TestTask>> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(std::make_unique<TestTask>(2));
    std::thread executor = EnqueueFromAnotherThread(batcher, *tasks[0]);
    model->WaitEntered(1);
    for (int i = 1; i < 3; ++i) ASSERT_TRUE(batcher.Enqueue(tasks[i].get()).ok());
    std::thread opener([&] {
      absl::SleepFor(absl::Milliseconds(20));
      model->OpenGate();
    });
    batcher.Stop();  // returns only once the queued tasks are done
    for (auto& t : tasks) EXPECT_TRUE(t->IsDone()) << delay;
    opener.join();
    executor.join();
    for (auto& t : tasks) EXPECT_TRUE(t->Result().ok());
    TestTask after(1);
    EXPECT_EQ(batcher.Enqueue(&after).code(), absl::StatusCode::kUnavailable);
  }
}

TEST(DynamicBatcherTest, RejectsMalformedTasks) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, Batching().MaxBatch(2).QueueRows(8));
  TestTask narrow(2);
  narrow.inputs.cols = kDim - 1;
  EXPECT_EQ(batcher.Enqueue(&narrow).code(), absl::StatusCode::kInvalidArgument);
  TestTask too_many(9);
  EXPECT_EQ(batcher.Enqueue(&too_many).code(), absl::StatusCode::kInvalidArgument);
  TestTask short_output(2);
  short_output.outputs.rows = 1;
  EXPECT_EQ(batcher.Enqueue(&short_output).code(), absl::StatusCode::kInvalidArgument);
  TestTask ok(1), wide(1);
  ASSERT_TRUE(batcher.Enqueue(&ok).ok());
  wide.outputs.cols = 1;  // every task of a batcher has the same output width
  EXPECT_EQ(batcher.Enqueue(&wide).code(), absl::StatusCode::kInvalidArgument);
}

// Copies each row's first two values to its output, fails any batch holding a row whose second
// value is a multiple of `fail_every`, and counts forwards that overlap (the model is only
// thread-compatible: the executor role must be exclusive).
class EchoModel : public Model {
 public:
  explicit EchoModel(int fail_every) : fail_every_(fail_every) {}
  absl::Status Forward(RowsView input, MutableRowsView output) override {
    if (running_.fetch_add(1) != 0) overlapped_.fetch_add(1);
    absl::Status status;
    for (int64_t i = 0; i < input.rows; ++i) {
      if (static_cast<int>(input.row(i)[1]) % fail_every_ == 0) status = absl::InternalError("x");
      output.row(i)[0] = input.row(i)[0];
      output.row(i)[1] = input.row(i)[1];
    }
    running_.fetch_sub(1);
    return status;
  }
  int input_dim() const override { return kDim; }
  int overlapped() const { return overlapped_.load(); }

 private:
  const int fail_every_;
  std::atomic<int> running_{0}, overlapped_{0};
};

// A task reused from request to request, like a ServingCall: its owner enqueues it again as soon
// as Computed has been called, and Computed poisons its views, so a batcher that touched a task
// after Computed would compute into the wrong rows or complete it twice.
class ReusedTask : public InferenceTask {
 public:
  void Reset(int64_t n, float id, absl::Time task_deadline) {
    in_.assign(n * kDim, 0.f);
    out_.assign(n * 2, -1.f);
    for (int64_t i = 0; i < n; ++i) {
      in_[i * kDim] = static_cast<float>(i);
      in_[i * kDim + 1] = id;
    }
    inputs = RowsView(in_.data(), n, kDim);
    outputs = MutableRowsView(out_.data(), n, 2);
    deadline = task_deadline;
    rows_ = n;
    id_ = id;
    std::lock_guard<std::mutex> lock(mu_);
    done_ = false;
  }
  void Computed(const absl::Status& status) override {
    if (after_stop != nullptr && after_stop->load()) late->fetch_add(1);
    dones->fetch_add(1);
    inputs = RowsView();
    outputs = MutableRowsView();
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_FALSE(done_) << "Computed twice for task " << id_;
    done_ = true;
    status_ = status;
    cv_.notify_all();
  }
  // Waits for Computed; false if it does not come within a second.
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(1), [&] { return done_; });
  }
  // Every row of an OK result holds its own input.
  bool RowsAreOwn() const {
    for (int64_t i = 0; i < rows_; ++i) {
      if (out_[i * 2] != static_cast<float>(i) || out_[i * 2 + 1] != id_) return false;
    }
    return true;
  }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  std::atomic<bool>* after_stop = nullptr;
  std::atomic<int>* late = nullptr;
  std::atomic<int>* dones = nullptr;

 private:
  std::vector<float> in_, out_;
  int64_t rows_ = 0;
  float id_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
};

TEST(DynamicBatcherTest, ConcurrentSmallAndBulkTasksWithDeadlinesAndFailuresRacingStop) {
  // Producers reuse their task the moment it is done, mixing single rows with bulk tasks (handed
  // to the worker, split across batches), past and near deadlines and failing forwards, while
  // another thread stops the batcher at a random point. Every accepted task completes exactly
  // once, before Stop returns, with its own rows; the model never runs two forwards at once.
  constexpr int kProducers = 4;
  std::mt19937 seeds(20240611);
  for (int config = 0; config < 3; ++config) {
    for (int round = 0; round < 15; ++round) {
      auto model = std::make_shared<EchoModel>(/*fail_every=*/37);
      BatcherOptions options =
          Batching()
              .MaxBatch(8)
              .Delay(config == 1 ? absl::Microseconds(200) : absl::ZeroDuration())
              .QueueRows(48)
              .Enabled(config != 2);
      options.inline_max_rows = 12;
      options.executor_yields = round % 2;
      auto batcher = std::make_unique<DynamicBatcher>(model, options);
      std::atomic<bool> stop_returned{false};
      std::atomic<int> late{0}, dones{0}, accepted{0}, lost{0}, wrong{0}, exhausted{0};
      std::vector<std::thread> producers;
      for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p, seed = seeds()] {
          std::mt19937 rng(seed);
          ReusedTask task;
          task.after_stop = &stop_returned;
          task.late = &late;
          task.dones = &dones;
          for (int i = 0;; ++i) {
            const int64_t rows = rng() % 4 == 0 ? 1 + rng() % 40 : 1 + rng() % 3;
            const int deadline_us = static_cast<int>(rng() % 6) * 100 - 100;
            task.Reset(rows, static_cast<float>(1 + p * 100000 + i),
                       rng() % 3 == 0 ? absl::Now() + absl::Microseconds(deadline_us)
                                      : absl::InfiniteFuture());
            const absl::Status s = batcher->Enqueue(&task);
            if (s.code() == absl::StatusCode::kUnavailable) return;
            if (s.code() == absl::StatusCode::kResourceExhausted) {
              exhausted.fetch_add(1);
              std::this_thread::yield();
              continue;
            }
            ASSERT_TRUE(s.ok()) << s;
            accepted.fetch_add(1);
            if (!task.Wait()) return lost.fetch_add(1), void();
            const absl::Status result = task.status();
            if (result.ok() ? !task.RowsAreOwn()
                            : result.code() != absl::StatusCode::kInternal &&
                                  result.code() != absl::StatusCode::kDeadlineExceeded) {
              wrong.fetch_add(1);
            }
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::microseconds(seeds() % 3000));
      batcher->Stop();
      stop_returned = true;
      for (std::thread& t : producers) t.join();
      batcher.reset();
      EXPECT_EQ(late.load(), 0) << "tasks completed after Stop returned; config " << config;
      EXPECT_EQ(lost.load(), 0) << "accepted tasks never completed; config " << config;
      EXPECT_EQ(dones.load(), accepted.load()) << "config " << config;
      EXPECT_EQ(wrong.load(), 0) << "results with another task's rows; config " << config;
      EXPECT_EQ(model->overlapped(), 0) << "two forwards at once; config " << config;
    }
  }
}

}  // namespace
}  // namespace arginator::server
