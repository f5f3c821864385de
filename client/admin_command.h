#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "client/arginator_client.h"

namespace arginator::client {

// `arginator-client admin ...`: the server's ModelAdmin service from the command line (status,
// load, unload, label set|clear, canary set, shadow set|clear|report, promote, rollback,
// default-label, rescan). The bearer token comes from --token-file or $ARGINATOR_ADMIN_TOKEN,
// never from a flag value (which would land in shell history and in `ps`).
class AdminCommand {
 public:
  // Adds the `admin` subcommand and its own subcommands to `app`; `add_common` adds the
  // connection options (target, TLS, deadline) to each.
  void Add(CLI::App& app, const std::function<void(CLI::App*)>& add_common);
  bool parsed() const { return admin_ != nullptr && admin_->parsed(); }
  // Runs the parsed subcommand; the exit status (0, 1 failure, 2 invalid input or refused).
  int Run(ArginatorClient& client) const;

 private:
  CLI::App* admin_ = nullptr;
  std::string token_file;
  std::string model;
  int64_t version = 0;
  std::string label;
  double percent = -1;
  bool json = false;
};

}  // namespace arginator::client
