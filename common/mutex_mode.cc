#include "common/mutex_mode.h"

#include "absl/synchronization/mutex.h"

namespace arginator {

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace arginator
