#include "server/batching/dynamic_batcher.h"

#include <future>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_model.h"

namespace arginator::server {
namespace {

using ::testing::ElementsAre;
using testing::FakeModel;

constexpr int kDim = 4;

// A task of n rows whose first value is the row's global index, so outputs identify rows.
struct Submitted {
  std::future<absl::StatusOr<Matrix>> result;
};

std::unique_ptr<InferenceTask> MakeTask(int64_t n, float first_value,
                                        std::promise<absl::StatusOr<Matrix>>& promise,
                                        absl::Time deadline = absl::InfiniteFuture()) {
  auto task = std::make_unique<InferenceTask>();
  task->n = n;
  task->inputs.assign(n * kDim, 0.f);
  for (int64_t i = 0; i < n; ++i) task->inputs[i * kDim] = first_value + static_cast<float>(i);
  task->deadline = deadline;
  task->done = [&promise](absl::StatusOr<Matrix> r) { promise.set_value(std::move(r)); };
  return task;
}

float Sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

TEST(DynamicBatcherTest, ConcurrentRequestsShareOneForward) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {/*max_batch_size=*/8, absl::Milliseconds(5), 100, true});
  model->CloseGate();
  std::promise<absl::StatusOr<Matrix>> first;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, first)).ok());
  model->WaitEntered(1);  // the first batch is in the model; the next four queue up behind it
  std::vector<std::promise<absl::StatusOr<Matrix>>> rest(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(batcher.Enqueue(MakeTask(1, i + 1, rest[i])).ok());
  model->OpenGate();
  for (int i = 0; i < 4; ++i) {
    auto r = rest[i].get_future().get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FLOAT_EQ(r->values[1], Sigmoid(static_cast<float>(i + 1)));  // each got its own row
  }
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 4));
}

TEST(DynamicBatcherTest, WithoutADelayRowsQueuedDuringAForwardFormTheNextBatch) {
  // The shipped default (max_queue_delay 0): an idle model runs a lone row at once, and whatever
  // arrives while it computes is batched together next.
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {/*max_batch_size=*/8, absl::ZeroDuration(), 100, true});
  model->CloseGate();
  std::promise<absl::StatusOr<Matrix>> first;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, first)).ok());
  model->WaitEntered(1);
  std::vector<std::promise<absl::StatusOr<Matrix>>> rest(5);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(batcher.Enqueue(MakeTask(2, 10 * i, rest[i])).ok());
  model->OpenGate();
  for (int i = 0; i < 5; ++i) {
    auto r = rest[i].get_future().get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FLOAT_EQ(r->values[3], Sigmoid(static_cast<float>(10 * i + 1)));  // its second row
  }
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 8, 2));  // 10 queued rows, at most 8 per batch
}

TEST(DynamicBatcherTest, ALoneRequestRunsAfterTheQueueDelay) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {64, absl::Milliseconds(20), 100, true});
  std::promise<absl::StatusOr<Matrix>> p;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, p)).ok());
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(19));  // waited for company, then ran alone
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1));
}

TEST(DynamicBatcherTest, LargeRequestIsSplitAcrossBatchesInOrder) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {4, absl::ZeroDuration(), 100, true});
  std::promise<absl::StatusOr<Matrix>> p;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(10, 0, p)).ok());
  auto r = p.get_future().get();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows, 10);
  for (int i = 0; i < 10; ++i)
    EXPECT_FLOAT_EQ(r->values[i * 2 + 1], Sigmoid(static_cast<float>(i)));
  EXPECT_THAT(model->batch_sizes(), ElementsAre(4, 4, 2));
}

TEST(DynamicBatcherTest, FullQueueIsResourceExhausted) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {2, absl::ZeroDuration(), /*max_queue_rows=*/4, true});
  model->CloseGate();
  std::promise<absl::StatusOr<Matrix>> a, b, c;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(2, 0, a)).ok());
  model->WaitEntered(1);
  ASSERT_TRUE(batcher.Enqueue(MakeTask(4, 0, b)).ok());  // fills the queue
  absl::Status full = batcher.Enqueue(MakeTask(1, 0, c));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), ::testing::HasSubstr("queue full"));
  model->OpenGate();
  EXPECT_TRUE(b.get_future().get().ok());  // nothing queued was lost
}

TEST(DynamicBatcherTest, ExpiredRequestsAreDroppedBeforeCompute) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {8, absl::ZeroDuration(), 100, true});
  model->CloseGate();
  std::promise<absl::StatusOr<Matrix>> first, late;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, first)).ok());
  model->WaitEntered(1);
  ASSERT_TRUE(batcher.Enqueue(MakeTask(3, 0, late, absl::Now() + absl::Milliseconds(1))).ok());
  absl::SleepFor(absl::Milliseconds(10));
  model->OpenGate();
  EXPECT_TRUE(first.get_future().get().ok());
  auto r = late.get_future().get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1));  // the late rows never reached the model
}

TEST(DynamicBatcherTest, BatchingOffRunsOneRequestPerForward) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {8, absl::Milliseconds(5), 100, /*batching=*/false});
  model->CloseGate();
  std::vector<std::promise<absl::StatusOr<Matrix>>> ps(4);
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, ps[0])).ok());
  model->WaitEntered(1);
  for (int i = 1; i < 4; ++i) ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, ps[i])).ok());
  model->OpenGate();
  for (auto& p : ps) EXPECT_TRUE(p.get_future().get().ok());
  EXPECT_THAT(model->batch_sizes(), ElementsAre(1, 1, 1, 1));
}

TEST(DynamicBatcherTest, ModelErrorReachesEveryTaskInTheBatch) {
  auto model = std::make_shared<FakeModel>(kDim);
  model->set_fail(true);
  DynamicBatcher batcher(model, {8, absl::Milliseconds(2), 100, true});
  std::promise<absl::StatusOr<Matrix>> a, b;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, a)).ok());
  ASSERT_TRUE(batcher.Enqueue(MakeTask(1, 0, b)).ok());
  EXPECT_EQ(a.get_future().get().status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(b.get_future().get().status().code(), absl::StatusCode::kInternal);
}

TEST(DynamicBatcherTest, AFailedSplitTaskIsNotComputedFurther) {
  auto model = std::make_shared<FakeModel>(kDim);
  model->set_fail(true);
  DynamicBatcher batcher(model, {4, absl::ZeroDuration(), 100, true});
  std::promise<absl::StatusOr<Matrix>> p;
  ASSERT_TRUE(batcher.Enqueue(MakeTask(10, 0, p)).ok());
  EXPECT_EQ(p.get_future().get().status().code(), absl::StatusCode::kInternal);
  batcher.Stop();  // drains: the remaining 6 rows must be dropped, not run
  EXPECT_THAT(model->batch_sizes(), ElementsAre(4));
  EXPECT_EQ(batcher.queued_rows(), 0);
}

TEST(DynamicBatcherTest, StopFinishesQueuedWorkThenRefusesMore) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {2, absl::ZeroDuration(), 100, true});
  model->CloseGate();
  std::vector<std::promise<absl::StatusOr<Matrix>>> ps(3);
  for (auto& p : ps) ASSERT_TRUE(batcher.Enqueue(MakeTask(2, 0, p)).ok());
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(20));
    model->OpenGate();
  });
  batcher.Stop();
  opener.join();
  for (auto& p : ps) EXPECT_TRUE(p.get_future().get().ok());
  std::promise<absl::StatusOr<Matrix>> after;
  EXPECT_EQ(batcher.Enqueue(MakeTask(1, 0, after)).code(), absl::StatusCode::kUnavailable);
}

TEST(DynamicBatcherTest, RejectsMalformedTasks) {
  auto model = std::make_shared<FakeModel>(kDim);
  DynamicBatcher batcher(model, {2, absl::ZeroDuration(), 8, true});
  std::promise<absl::StatusOr<Matrix>> p;
  auto task = MakeTask(2, 0, p);
  task->inputs.pop_back();
  EXPECT_EQ(batcher.Enqueue(std::move(task)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batcher.Enqueue(MakeTask(9, 0, p)).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace arginator::server
