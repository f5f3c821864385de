#pragma once

#include <functional>

#include "absl/time/time.h"
#include "common/clock.h"

namespace arginator::server {

// How arginator-server stops on SIGTERM (a rolling update, a scale-down) without losing work it
// accepted. Each step is one component's part; RunDrain runs them in this order:
struct DrainSteps {
  // Health and every protocol's readiness say NOT_SERVING (liveness stays SERVING), so load
  // balancers stop sending; REST inference answers 503 from now on.
  std::function<void()> stop_readiness;
  // A model load in progress ends now (CANCELLED) instead of at its timeout: an admin call may
  // be waiting on it.
  std::function<void()> cancel_loads;
  // Open ClassifyStream calls answer what they have read and end (UNAVAILABLE) instead of holding
  // the whole grace period and then losing their in-flight messages to its cancellation.
  std::function<void()> end_streams;
  // gRPC stops accepting calls; those in flight may finish until `deadline`, then are cancelled.
  std::function<void(absl::Time deadline)> shutdown_grpc;
  // The REST server stops accepting and waits for its requests in flight.
  std::function<void()> stop_rest;
  // No more repository polls, then every version drains its batcher and is destroyed.
  std::function<void()> stop_watcher;
  std::function<void()> unload_models;
  // Last, so that scrapes see the drain to its end.
  std::function<void()> stop_metrics;
};

// Runs `steps` in order; gRPC's deadline is `grace` after the drain began (by `clock`). Every
// step must be set. With a `delay`, gRPC (and streams) keep serving that long after readiness says
// NOT_SERVING, for balancers that poll readiness (server.drain_delay_s); the grace starts after it.
void RunDrain(const DrainSteps& steps, absl::Duration grace, const Clock& clock = Clock::Real(),
              absl::Duration delay = absl::ZeroDuration());

}  // namespace arginator::server
