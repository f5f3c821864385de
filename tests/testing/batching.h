#pragma once

#include "server/batching/dynamic_batcher.h"
#include "server/server_config.h"

namespace arginator::testing {

// BatcherOptions for tests: the server's defaults (configs/server.yaml) with what a test changes,
// by name: Batching().MaxBatch(8).QueueRows(100).
class Batching {
 public:
  Batching() : options_(server::DefaultServerConfig().batching) {}
  Batching& MaxBatch(int rows) {
    options_.max_batch_size = rows;
    return *this;
  }
  Batching& Delay(absl::Duration max_queue_delay) {
    options_.max_queue_delay = max_queue_delay;
    return *this;
  }
  Batching& QueueRows(int64_t rows) {
    options_.max_queue_rows = rows;
    return *this;
  }
  Batching& Enabled(bool enabled) {
    options_.enabled = enabled;
    return *this;
  }
  Batching& Yields(int executor_yields) {
    options_.executor_yields = executor_yields;
    return *this;
  }
  Batching& InlineMaxRows(int64_t rows) {
    options_.inline_max_rows = rows;
    return *this;
  }
  operator server::BatcherOptions() const { return options_; }  // NOLINT: a builder

 private:
  server::BatcherOptions options_;
};

}  // namespace arginator::testing
