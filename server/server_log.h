#pragma once

#include <string>

namespace arginator::server {

// arginator-server's log: one line on stderr per event, "<UTC time, ms> arginator-server: <line>",
// for startup, lifecycle (loads, swaps, unloads, failures) and shutdown alike. Thread-safe (one
// write per line).
void ServerLog(const std::string& line);

}  // namespace arginator::server
