#include "server/registry/version_reclaimer.h"

#include <malloc.h>

namespace arginator::server {

MemoryTrimmer::MemoryTrimmer(const Clock& clock, absl::Duration quiet, std::function<void()> trim)
    : clock_(clock), quiet_(quiet), trim_(trim ? std::move(trim) : [] { malloc_trim(0); }) {}

void MemoryTrimmer::Freed() {
  MutexLock lock(&mu_);
  pending_ = true;
  last_freed_ = clock_.Now();
}

bool MemoryTrimmer::TrimIfQuiet() {
  {
    MutexLock lock(&mu_);
    if (!pending_ || clock_.Now() - last_freed_ < quiet_) return false;
    pending_ = false;
  }
  trim_();
  return true;
}

absl::Duration MemoryTrimmer::UntilDue() const {
  MutexLock lock(&mu_);
  if (!pending_) return absl::InfiniteDuration();
  return std::max(absl::ZeroDuration(), last_freed_ + quiet_ - clock_.Now());
}

// What a tracked version's deleter signals: shared with the deleters, which may outlive the
// reclaimer (a handle released after shutdown).
struct VersionReclaimer::Queue {
  Mutex mu;
  CondVar cv;
  std::deque<std::shared_ptr<ServableVersion>> released ABSL_GUARDED_BY(mu);
  int64_t signalled ABSL_GUARDED_BY(mu) = 0;  // releases so far
  int64_t reclaimed ABSL_GUARDED_BY(mu) = 0;  // of them, destroyed and reported
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

VersionReclaimer::VersionReclaimer(OnReclaimed on_reclaimed, const Clock& clock,
                                   absl::Duration trim_after_quiet, std::function<void()> trim)
    : on_reclaimed_(std::move(on_reclaimed)),
      trimmer_(clock, trim_after_quiet, std::move(trim)),
      queue_(std::make_shared<Queue>()) {
  thread_ = std::thread([this] { Run(); });
}

VersionReclaimer::~VersionReclaimer() {
  {
    MutexLock lock(&queue_->mu);
    queue_->stopped = true;
  }
  queue_->cv.SignalAll();
  thread_.join();
}

std::shared_ptr<ServableVersion> VersionReclaimer::Track(std::shared_ptr<ServableVersion> version) {
  ServableVersion* const raw = version.get();
  return std::shared_ptr<ServableVersion>(
      raw, [queue = queue_, owned = std::move(version)](ServableVersion*) mutable {
        MutexLock lock(&queue->mu);
        if (queue->stopped) {
          lock.Unlock();
          owned.reset();  // after shutdown: here
          return;
        }
        queue->released.push_back(std::move(owned));
        ++queue->signalled;
        lock.Unlock();
        queue->cv.SignalAll();
      });
}

void VersionReclaimer::Flush() {
  MutexLock lock(&queue_->mu);
  const int64_t target = queue_->signalled;
  while (queue_->reclaimed < target && !queue_->stopped) queue_->cv.Wait(&queue_->mu);
}

void VersionReclaimer::Run() {
  MutexLock lock(&queue_->mu);
  for (;;) {
    const absl::Duration until_trim = trimmer_.UntilDue();
    if (until_trim == absl::InfiniteDuration()) {
      while (!queue_->stopped && queue_->released.empty()) queue_->cv.Wait(&queue_->mu);
    } else if (!queue_->stopped && queue_->released.empty()) {
      queue_->cv.WaitFor(&queue_->mu,
                         absl::ToChronoMilliseconds(until_trim) + std::chrono::milliseconds(1));
    }
    while (!queue_->released.empty()) {
      std::shared_ptr<ServableVersion> version = std::move(queue_->released.front());
      queue_->released.pop_front();
      lock.Unlock();
      const std::string name = version->card.name;
      const int64_t number = version->card.version;
      version.reset();  // stops its batcher, frees the model
      trimmer_.Freed();
      on_reclaimed_(name, number);
      lock.Lock();
      ++queue_->reclaimed;
      queue_->cv.SignalAll();
    }
    if (queue_->stopped) return;
    lock.Unlock();
    trimmer_.TrimIfQuiet();
    lock.Lock();
  }
}

}  // namespace arginator::server
