// arginator-loadgen: a ghz drop-in load generator for arginator.v1.Classifier (Classify, and
// ClassifyStream with --call or --stream). docs/clients.md lists the flags and the report.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "client/loadgen/ghz_command_line.h"
#include "client/loadgen/request_payloads.h"
#include "common/mutex_mode.h"

namespace {

std::atomic<bool> interrupted{false};

// Ctrl-C ends the run early, and its report says so (endReason "cancel"), as ghz's does; a
// second one ends the process.
void OnInterrupt(int) {
  if (interrupted.exchange(true)) std::_Exit(130);
}

int Run(int argc, char** argv) {
  using namespace arginator::client;
  auto parsed = ParseCommandLine(argc, argv, std::cin);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  LoadgenCommand& command = std::get<LoadgenCommand>(parsed);
  auto fail = [](const absl::Status& s, int code) {
    std::cerr << "arginator-loadgen: error: " << s.message() << std::endl;
    return code;
  };

  if (!command.write_frame.empty()) {
    absl::Status s = WriteRequestFrame(command.load, command.write_frame);
    return s.ok() ? 0 : fail(s, 2);
  }
  std::signal(SIGINT, OnInterrupt);
  command.load.interrupt = &interrupted;
  auto report = RunLoad(command.load);
  if (!report.ok()) {
    // Bad input is a usage error (2); a server that cannot be reached is 1, as in ghz.
    return fail(report.status(), report.status().code() == absl::StatusCode::kUnavailable ? 1 : 2);
  }
  const std::string text = FormatReport(*report, command.meta, command.format);
  if (command.output.empty()) {
    std::cout << text << std::flush;
    return 0;
  }
  std::ofstream out(command.output, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fail(absl::InternalError("cannot write the report to " + command.output), 1);
  return 0;
}

}  // namespace

// Ends with _Exit, after flushing, and without the exit handlers: gRPC's threads may still be
// retrying a connection (a TLS handshake against a plaintext server) when the run is over, and
// OpenSSL's exit handler freed the locks such a handshake takes (a segfault in 1 run of ~10 on
// a loaded machine, LoadgenTest.TlsUnlessInsecureAsGhz).
int main(int argc, char** argv) {
  arginator::DisableMutexDeadlockDetection();
  const int code = Run(argc, argv);
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}
