// arginator-server: parses the command line and the config, starts an ArginatorServer
// (server/app/arginator_server.h), serves until SIGTERM or SIGINT, then drains.
#include <cstdlib>
#include <iostream>
#include <variant>

#include "absl/strings/str_cat.h"
#include "server/app/arginator_server.h"
#include "server/app/command_line.h"
#include "server/app/process.h"
#include "server/model/torchscript_model.h"
#include "server/server_log.h"

using namespace arginator::server;

namespace {

int Fail(const absl::Status& status) {
  ServerLog(absl::StrCat("error: ", status.message()));
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  PrepareServerProcess();
  std::variant<ServerCommandLine, int> parsed = ParseServerCommandLine(argc, argv);
  if (const int* exit_status = std::get_if<int>(&parsed)) return *exit_status;
  const ServerCommandLine& line = std::get<ServerCommandLine>(parsed);
  using Action = ServerCommandLine::Action;
  if (line.action == Action::kPrintDefaults) {
    std::cout << DefaultServerConfigYaml();
    return 0;
  }
  absl::StatusOr<ServerConfig> config = LoadServerConfig(line.config_path, line.overrides);
  if (!config.ok()) return Fail(config.status());
  if (line.action == Action::kCheckConfig) {
    std::cout << ConfigSummary(*config) << "\n";
    return 0;
  }
  if (absl::Status s = CheckTorchDevice(config->device); !s.ok()) return Fail(s);
  if (line.action == Action::kCheckDevice) {
    std::cout << "device " << config->device << ": usable\n";
    return 0;
  }
  absl::StatusOr<std::unique_ptr<ArginatorServer>> server = ArginatorServer::Start(*config);
  if (!server.ok()) return Fail(server.status());
  const std::string reason = WaitForTerminationSignal();
  // Abandoned loads' threads still run and may use the server: no destructors under them.
  if ((*server)->Drain(reason) > 0) std::_Exit(0);
  return 0;
}
