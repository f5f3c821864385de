#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "server/registry/servable.h"

namespace arginator::server {

// When to hand freed memory back to the OS. The allocator keeps freed heap for tensors
// (common/allocator.h), which would otherwise grow with every swap; but malloc_trim returns every
// free page, which the serving threads then fault in again, and during a burst of swaps that
// showed in the p99 (measured: 1.40x steady with a trim per swap, 1.20x without). So: one trim
// once unloads have been quiet for `quiet`. Thread-safe.
class MemoryTrimmer {
 public:
  static constexpr absl::Duration kDefaultQuiet = absl::Seconds(2);

  MemoryTrimmer(const Clock& clock, absl::Duration quiet, std::function<void()> trim);

  // A version's memory was freed.
  void Freed();
  // Trims if memory was freed since the last trim and nothing for `quiet`; returns whether it did.
  bool TrimIfQuiet();
  // How long until TrimIfQuiet could trim (InfiniteDuration when nothing is pending).
  absl::Duration UntilDue() const;

 private:
  const Clock& clock_;
  const absl::Duration quiet_;
  const std::function<void()> trim_;
  mutable Mutex mu_;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_freed_ ABSL_GUARDED_BY(mu_);
};

// Destroys unloaded model versions once the last request holding one lets go, off the request
// path. The registry hands each loaded version to Track and serves the pointer it returns; when
// the last copy of that pointer is released (the registry's own, at unload, and every in-flight
// request's handle) the release is signalled here and this component's thread destroys the
// version (stopping its batcher, which must not happen on the batcher's own thread, where a
// request completing may drop the last handle), then reports it through `on_reclaimed` and lets
// the MemoryTrimmer decide when to return the memory to the OS. No polling of reference counts.
class VersionReclaimer {
 public:
  using OnReclaimed = std::function<void(const std::string& name, int64_t version)>;

  // `on_reclaimed` runs on this component's thread, without its locks held.
  VersionReclaimer(OnReclaimed on_reclaimed, const Clock& clock = Clock::Real(),
                   absl::Duration trim_after_quiet = MemoryTrimmer::kDefaultQuiet,
                   std::function<void()> trim = nullptr);
  // Destroys what was released and joins the thread. Versions released after this are destroyed
  // on the releasing thread.
  ~VersionReclaimer();

  // The pointer to serve `version` through (same object); its last release signals this.
  std::shared_ptr<ServableVersion> Track(std::shared_ptr<ServableVersion> version);
  // Waits until every version released so far is destroyed and reported.
  void Flush();

 private:
  struct Queue;
  void Run();

  const OnReclaimed on_reclaimed_;
  MemoryTrimmer trimmer_;
  const std::shared_ptr<Queue> queue_;  // shared with the deleters of tracked versions
  std::thread thread_;
};

}  // namespace arginator::server
