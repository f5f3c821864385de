#pragma once

#include <string>
#include <variant>
#include <vector>

#include "server/server_config.h"

namespace arginator::server {

// arginator-server's command line. Flags that stand for a config key (--port, --device, ...)
// become dotted overrides applied after the --config file and after --set, so that
// LoadServerConfig is the one place that checks every value and knows every default.
struct ServerCommandLine {
  enum class Action {
    kServe,
    kPrintDefaults,  // --print-default-config
    kCheckConfig,    // --check-config: parse flags and config, print the result
    kCheckDevice,    // --check-device: is the configured device usable by this build
  };
  Action action = Action::kServe;
  std::string config_path;
  std::vector<std::string> overrides;  // key=value, in the order they apply
};

// The parsed command line, or the exit status when there is nothing more to do: 0 after --help,
// CLI11's status after printing why a flag was refused.
std::variant<ServerCommandLine, int> ParseServerCommandLine(int argc, const char* const* argv);

// --check-config's one-line answer.
std::string ConfigSummary(const ServerConfig& config);

}  // namespace arginator::server
