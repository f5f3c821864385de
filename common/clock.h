#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace arginator {

// The time, injected where timing logic is tested (retry backoff, memory trimming, the drain's
// deadline), so that its tests advance a FakeClock (tests/testing/fake_clock.h) instead of
// sleeping. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The system clock (absl::Now()).
  static const Clock& Real();
};

inline const Clock& Clock::Real() {
  class RealClock : public Clock {
   public:
    absl::Time Now() const override { return absl::Now(); }
  };
  static const RealClock* const clock = new RealClock;
  return *clock;
}

}  // namespace arginator
