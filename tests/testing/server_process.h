#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace arginator::testing {

// Runs arginator-server as a child process on free ports (--port 0 --metrics-port 0; the REST
// port is a free one too unless `args` name it), reads the ports it bound from its log, and kills
// it on destruction if the test did not stop it.
class ServerProcess {
 public:
  // Starts `binary` with `args` and waits (up to `timeout`) for both ports to be logged.
  // Returns nullptr (with the log in `log_out`) if it exits or times out first.
  static std::unique_ptr<ServerProcess> Start(
      const std::string& binary, std::vector<std::string> args, const std::string& log_path,
      std::string* log_out = nullptr, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto p = std::unique_ptr<ServerProcess>(new ServerProcess(log_path));
    const auto rest = std::find(args.begin(), args.end(), "--rest-port");
    const bool rest_on = rest == args.end() || rest + 1 == args.end() || *(rest + 1) != "-1";
    if (rest == args.end()) {
      args.insert(args.end(), {"--rest-port", "0"});  // parallel tests must not share 8000
    }
    args.insert(args.begin(), binary);
    std::remove(log_path.c_str());  // never read an earlier server's log for this one's ports
    p->pid_ = ::fork();
    if (p->pid_ == 0) {
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::smatch m;
    const std::regex grpc_re("listening on [^ ]*:([0-9]+)"),
        metrics_re("metrics on http://[^:]*:([0-9]+)"),
        rest_re(R"(REST \(Open Inference Protocol v2\) on https?://[^:]*:([0-9]+))");
    while (std::chrono::steady_clock::now() < until) {
      std::string log = p->Log();
      if (std::regex_search(log, m, grpc_re)) p->port_ = std::stoi(m[1]);
      if (std::regex_search(log, m, metrics_re)) p->metrics_port_ = std::stoi(m[1]);
      if (std::regex_search(log, m, rest_re)) p->rest_port_ = std::stoi(m[1]);
      // The REST line comes after the metrics line: returning before it left rest_port() 0.
      if (p->port_ > 0 && (p->rest_port_ > 0 || !rest_on) &&
          (p->metrics_port_ > 0 || log.find("SERVING") != std::string::npos)) {
        return p;
      }
      int status;
      if (::waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
        p->pid_ = -1;
        if (log_out) *log_out = log;
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (log_out) *log_out = p->Log();
    return nullptr;
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  int rest_port() const { return rest_port_; }  // 0 when REST is off
  int pid() const { return pid_; }

  // Sends `signal` and waits for the exit; returns the exit code (-1 if killed by a signal).
  int Stop(int signal = SIGTERM) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // True while the process has not exited (reaps it if it has).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  explicit ServerProcess(std::string log_path) : log_path_(std::move(log_path)) {}
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0, metrics_port_ = 0, rest_port_ = 0;
};

}  // namespace arginator::testing
