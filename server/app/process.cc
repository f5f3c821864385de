#include "server/app/process.h"

#include <signal.h>

#include "absl/time/time.h"
#include "common/allocator.h"
#include "common/mutex_mode.h"
#include "server/grpc/protobuf_log.h"

namespace arginator::server {
namespace {

sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void PrepareServerProcess() {
  DisableMutexDeadlockDetection();
  TuneAllocatorForTensors();
  // A client sending strings that are not UTF-8 makes libprotobuf log a line per message.
  LimitProtobufLog(/*burst=*/10, absl::Minutes(1));
  signal(SIGPIPE, SIG_IGN);
  const sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

std::string WaitForTerminationSignal() {
  const sigset_t signals = TerminationSignals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  return signal_number == SIGTERM ? "received SIGTERM" : "received SIGINT";
}

}  // namespace arginator::server
