#pragma once

namespace arginator {

// Turns off absl::Mutex's deadlock detection for this process. Debian builds Abseil without
// NDEBUG, so every absl::Mutex lock (gRPC's core locks are absl::Mutex) records the acquisition
// order in a global graph: in a profile of the server at 64 concurrent requests,
// GraphCycles::GetId, UpdateStackTrace and their locking took about 5% of the CPU. Call once at
// the start of main() in processes that run gRPC; tests keep the detection on.
void DisableMutexDeadlockDetection();

}  // namespace arginator
