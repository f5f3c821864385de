#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace arginator {
namespace {

// True when another thread can take `mu` right now (TryLock from the calling thread would be
// undefined behaviour while it holds `mu`).
bool FreeFromAnotherThread(Mutex& mu) {
  bool taken = false;
  std::thread([&] {
    if (mu.TryLock()) {
      taken = true;
      mu.Unlock();
    }
  }).join();
  return taken;
}

struct Counter {
  Mutex mu;
  int64_t value ABSL_GUARDED_BY(mu) = 0;
};

struct Flag {
  Mutex mu;
  CondVar cv;
  bool ready ABSL_GUARDED_BY(mu) = false;
  int woken ABSL_GUARDED_BY(mu) = 0;
};

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        MutexLock lock(&counter.mu);
        counter.value = counter.value + 1;  // read and write: lost updates without the lock
      }
    });
  }
  for (std::thread& t : threads) t.join();
  MutexLock lock(&counter.mu);
  EXPECT_EQ(counter.value, 80000);
}

TEST(MutexTest, MutexLockHoldsUntilDestroyedAndUnlockLockReleaseAndRetake) {
  Mutex mu;
  {
    MutexLock lock(&mu);
    EXPECT_FALSE(FreeFromAnotherThread(mu));
    lock.Unlock();
    EXPECT_TRUE(FreeFromAnotherThread(mu));
    lock.Lock();
    EXPECT_FALSE(FreeFromAnotherThread(mu));
  }
  EXPECT_TRUE(FreeFromAnotherThread(mu));
}

TEST(MutexTest, DestructorAfterUnlockDoesNotReleaseAnotherThreadsHold) {
  Mutex mu;
  std::atomic<bool> held{false};
  std::atomic<bool> release{false};
  std::thread holder;
  {
    MutexLock lock(&mu);
    lock.Unlock();
    holder = std::thread([&] {
      mu.Lock();
      held = true;
      while (!release) std::this_thread::yield();
      mu.Unlock();
    });
    while (!held) std::this_thread::yield();
  }  // must not unlock: the holder owns mu now
  EXPECT_FALSE(FreeFromAnotherThread(mu));
  release = true;
  holder.join();
  EXPECT_TRUE(FreeFromAnotherThread(mu));
}

TEST(CondVarTest, WaitReturnsWithTheLockHeldAfterSignalAll) {
  Flag f;
  std::vector<std::thread> waiters;
  for (int t = 0; t < 3; ++t) {
    waiters.emplace_back([&f] {
      MutexLock lock(&f.mu);
      while (!f.ready) f.cv.Wait(&f.mu);
      f.woken = f.woken + 1;  // lost updates (and a TSan report) if Wait returned unlocked
    });
  }
  {
    MutexLock lock(&f.mu);
    f.ready = true;
  }
  f.cv.SignalAll();
  for (std::thread& t : waiters) t.join();
  MutexLock lock(&f.mu);
  EXPECT_EQ(f.woken, 3);
}

TEST(CondVarTest, WaitForAndWaitUntilReportTimeoutsAndKeepTheLock) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  bool timed_out = false;
  while (!timed_out) timed_out = cv.WaitFor(&mu, std::chrono::milliseconds(1));
  EXPECT_FALSE(FreeFromAnotherThread(mu));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
  timed_out = false;
  while (!timed_out) timed_out = cv.WaitUntil(&mu, deadline);
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  EXPECT_FALSE(FreeFromAnotherThread(mu));
}

TEST(CondVarTest, WaitUntilReturnsFalseWhenSignalledBeforeTheDeadline) {
  Flag f;
  std::thread signaller([&f] {
    MutexLock lock(&f.mu);
    f.ready = true;
    f.cv.Signal();
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  MutexLock lock(&f.mu);
  bool timed_out = false;
  while (!f.ready && !timed_out) timed_out = f.cv.WaitUntil(&f.mu, deadline);
  EXPECT_TRUE(f.ready);
  EXPECT_FALSE(timed_out);
  lock.Unlock();
  signaller.join();
}

}  // namespace
}  // namespace arginator
