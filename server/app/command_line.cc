#include "server/app/command_line.h"

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"

namespace arginator::server {

std::variant<ServerCommandLine, int> ParseServerCommandLine(int argc, const char* const* argv) {
  CLI::App app{"arginator-server: serve beta-lactamase classifiers over gRPC"};
  ServerCommandLine line;
  std::string repository, device, host;
  int port = -1, metrics_port = -2, rest_port = -2;  // out of range: not given
  app.add_option("--config", line.config_path, "YAML config (configs/server.yaml)");
  app.add_option("--model-repository", repository, "model repository (models.repository)");
  app.add_option("--port", port, "gRPC port, 0 = any free port (server.port)");
  app.add_option("--metrics-port", metrics_port, "Prometheus /metrics port, 0 = any, -1 = off");
  app.add_option("--rest-port", rest_port,
                 "v2 (KServe) HTTP/REST port, 0 = any, -1 = off (server.rest_port)");
  app.add_option("--device", device, "cpu, cuda or cuda:N (server.device)");
  app.add_option("--host", host, "address to bind (server.host)");
  app.add_option("--set", line.overrides,
                 "any config key as key=value, e.g. batching.max_batch_size=128");
  bool print_defaults = false, check_config = false, check_device = false;
  app.add_flag("--print-default-config", print_defaults, "print the built-in defaults and exit");
  app.add_flag("--check-config", check_config,
               "parse the flags and the config, print the result and exit (0 = valid); a dry run "
               "of a container's command line");
  app.add_flag("--check-device", check_device,
               "check that the configured device is usable by this build, then exit (0 = yes)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!repository.empty()) line.overrides.push_back("models.repository=" + repository);
  if (port >= 0) line.overrides.push_back(absl::StrCat("server.port=", port));
  if (metrics_port >= -1) {
    line.overrides.push_back(absl::StrCat("server.metrics_port=", metrics_port));
  }
  if (rest_port >= -1) line.overrides.push_back(absl::StrCat("server.rest_port=", rest_port));
  if (!device.empty()) line.overrides.push_back("server.device=" + device);
  if (!host.empty()) line.overrides.push_back("server.host=" + host);
  using Action = ServerCommandLine::Action;
  line.action = print_defaults ? Action::kPrintDefaults
                : check_config ? Action::kCheckConfig
                : check_device ? Action::kCheckDevice
                               : Action::kServe;
  return line;
}

std::string ConfigSummary(const ServerConfig& c) {
  return absl::StrCat("config ok: port ", c.port, ", metrics port ", c.metrics_port, ", REST port ",
                      c.rest_port, ", device ", c.device, ", repository ", c.repository);
}

}  // namespace arginator::server
