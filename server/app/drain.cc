#include "server/app/drain.h"

#include "absl/time/clock.h"

namespace arginator::server {

void RunDrain(const DrainSteps& steps, absl::Duration grace, const Clock& clock,
              absl::Duration delay) {
  steps.stop_readiness();
  steps.cancel_loads();
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  const absl::Time deadline = clock.Now() + grace;
  steps.end_streams();
  steps.shutdown_grpc(deadline);
  steps.stop_rest();
  steps.stop_watcher();
  steps.unload_models();
  steps.stop_metrics();
}

}  // namespace arginator::server
