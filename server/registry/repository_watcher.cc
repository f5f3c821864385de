#include "server/registry/repository_watcher.h"

#include <filesystem>
#include <map>

#include "absl/strings/numbers.h"

namespace arginator::server {

namespace fs = std::filesystem;

RepositoryWatcher::RepositoryWatcher(std::string root, absl::Duration interval,
                                     ModelRegistry* registry, std::function<void()> after_poll)
    : root_(std::move(root)),
      interval_(interval),
      registry_(registry),
      after_poll_(std::move(after_poll)) {}

RepositoryWatcher::~RepositoryWatcher() { Stop(); }

void RepositoryWatcher::PollOnce() {
  std::lock_guard<std::mutex> poll_lock(poll_mu_);
  std::map<std::string, std::map<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& model_dir : fs::directory_iterator(root_, ec)) {
    const std::string name = model_dir.path().filename().string();
    if (name.empty() || name[0] == '.' || !model_dir.is_directory()) continue;
    auto& versions = found[name];
    std::error_code ec2;
    for (const auto& version_dir : fs::directory_iterator(model_dir.path(), ec2)) {
      const std::string v = version_dir.path().filename().string();
      int64_t version = 0;
      if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) ||
          !absl::SimpleAtoi(v, &version) || version <= 0 || !version_dir.is_directory()) {
        continue;
      }
      if (fs::exists(version_dir.path() / "model.json") &&
          fs::exists(version_dir.path() / "model.pt")) {
        versions[version] = version_dir.path().string();
      }
    }
  }
  std::set<std::string> known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, versions] : found) models_.insert(name);
    known = models_;
  }
  // Models that vanished entirely reconcile against nothing: their last ready version stays.
  for (const std::string& name : known) {
    auto it = found.find(name);
    registry_->Reconcile(name, it == found.end() ? std::map<int64_t, std::string>{} : it->second);
  }
  registry_->ReapUnloaded();
  if (after_poll_) after_poll_();
}

void RepositoryWatcher::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_),
                     [this] { return stop_ || wake_; });
        if (stop_) return;
        wake_ = false;
      }
      PollOnce();
    }
  });
}

void RepositoryWatcher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void RepositoryWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::set<std::string> RepositoryWatcher::models() const {
  std::lock_guard<std::mutex> lock(mu_);
  return models_;
}

}  // namespace arginator::server
