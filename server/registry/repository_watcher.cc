#include "server/registry/repository_watcher.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/model_package.h"
#include "common/release_settings.h"
#include "common/version_labels.h"

namespace arginator::server {

namespace fs = std::filesystem;

RepositoryWatcher::RepositoryWatcher(std::string root, absl::Duration interval,
                                     ModelRegistry* registry, std::function<void()> after_poll,
                                     AuditLog* audit)
    : root_(std::move(root)),
      interval_(interval),
      registry_(registry),
      after_poll_(std::move(after_poll)),
      audit_(audit) {}

RepositoryWatcher::~RepositoryWatcher() { Stop(); }

namespace {

// Entries of `dir`, without following anything that cannot be listed: the non-throwing
// overloads throughout, because one symlink loop or vanished entry must not end the process.
std::vector<fs::directory_entry> ListDirectory(const fs::path& dir) {
  std::vector<fs::directory_entry> entries;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  while (!ec && it != end) {
    entries.push_back(*it);
    it.increment(ec);
  }
  return entries;
}

bool IsDirectory(const fs::directory_entry& entry) {
  std::error_code ec;
  return entry.is_directory(ec) && !ec;  // a symlink loop is an error here, not a directory
}

// Whether anything is at `path`, the link itself for a symlink: a dangling or looping link is
// a broken labels file (kept labels, a logged reason), not a removed one (labels cleared).
bool IsFile(const fs::path& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec)) && !ec;
}

// What changes when a file is rewritten, replaced or appended to (after symlinks).
std::string Fingerprint(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "?";
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, ":", st.st_ctim.tv_sec, ".", st.st_ctim.tv_nsec);
}

// Version directories of one model dir that hold both files, by version number.
std::map<int64_t, VersionOnDisk> CompleteVersions(const fs::path& model_dir) {
  std::map<int64_t, VersionOnDisk> versions;
  for (const fs::directory_entry& version_dir : ListDirectory(model_dir)) {
    const std::string v = version_dir.path().filename().string();
    int64_t version = 0;
    if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) ||
        !absl::SimpleAtoi(v, &version) || version <= 0 || !IsDirectory(version_dir)) {
      continue;
    }
    const fs::path card = version_dir.path() / kModelCardFile,
                   model = version_dir.path() / kModelFile;
    if (IsFile(card) && IsFile(model)) {
      versions.emplace(version, VersionOnDisk(version_dir.path().string(),
                                              Fingerprint(card) + "|" + Fingerprint(model)));
    }
  }
  return versions;
}

}  // namespace

void RepositoryWatcher::PollOnce() {
  MutexLock poll_lock(&poll_mu_);
  // A model is a directory with at least one complete version: an empty or half-made directory
  // is not one (it would hold readiness down as a model without a ready version).
  std::map<std::string, std::map<int64_t, VersionOnDisk>> found;
  for (const fs::directory_entry& model_dir : ListDirectory(root_)) {
    const std::string name = model_dir.path().filename().string();
    if (name.empty() || name[0] == '.' || !IsDirectory(model_dir)) continue;
    std::map<int64_t, VersionOnDisk> versions = CompleteVersions(model_dir.path());
    if (versions.empty()) continue;
    found[name] = std::move(versions);
    // A model seen for the first time (startup) starts from its files: no change to audit.
    const bool audit = registry_->Knows(name);
    ApplyLabelsFile(name, model_dir.path().string(),
                    audit);  // before Reconcile: labels are desired
    ApplyReleaseFile(name, model_dir.path().string(), audit);
  }
  std::set<std::string> known;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, versions] : found) models_.insert(name);
    known = models_;
  }
  // Models that vanished entirely reconcile against nothing: their last ready version stays.
  // One left with no version at all (say its only version failed and was deleted) is forgotten.
  std::set<std::string> forgotten;
  for (const std::string& name : known) {
    auto it = found.find(name);
    registry_->Reconcile(name, it == found.end() ? std::map<int64_t, VersionOnDisk>{} : it->second);
    if (it == found.end() && registry_->ForgetIfEmpty(name)) forgotten.insert(name);
  }
  if (!forgotten.empty()) {
    MutexLock lock(&mu_);
    for (const std::string& name : forgotten) models_.erase(name);
  }
  for (const auto& [name, change] : registry_->ExpirePrevious()) {
    Audit("previous_lapsed", name, "grace", change);
  }
  if (after_poll_) after_poll_();
}

void RepositoryWatcher::Audit(const std::string& action, const std::string& name,
                              const std::string& identity, const ReleaseChange& change) {
  if (audit_ != nullptr) audit_->Record(AuditLog::ForChange(action, name, identity, change));
}

void RepositoryWatcher::ApplyFile(const std::string& name, const std::filesystem::path& path,
                                  std::map<std::string, std::string>& seen_fingerprints,
                                  const std::string& action, bool audit,
                                  const ModelRegistry::FileRead& read) {
  const std::string fingerprint = IsFile(path) ? Fingerprint(path) : "";
  auto seen = seen_fingerprints.find(name);
  if (seen == seen_fingerprints.end() ? fingerprint.empty() : seen->second == fingerprint) return;
  seen_fingerprints[name] = fingerprint;
  // Nothing when the file holds what the model has (the admin API wrote it).
  std::optional<ReleaseChange> change = registry_->ApplyFiles(name, read);
  if (change && audit) {
    const std::string file = path.filename().string();
    change->message = absl::StrCat(file, " changed");
    Audit(action, name, file, *change);
  }
}

void RepositoryWatcher::ApplyLabelsFile(const std::string& name, const std::string& model_dir,
                                        bool audit) {
  const fs::path path = fs::path(model_dir) / kVersionLabelsFile;
  ApplyFile(name, path, labels_seen_, "labels_file", audit,
            [&](std::map<std::string, int64_t>& labels, ReleaseSettings&) -> absl::Status {
              if (!IsFile(path)) {  // removed: no labels
                labels.clear();
                return absl::OkStatus();
              }
              absl::StatusOr<std::map<std::string, int64_t>> read =
                  ReadVersionLabels(path.string(), registry_->max_label_bytes());
              if (!read.ok()) {
                std::cerr << "arginator-server: ignoring version labels: "
                          << read.status().message() << std::endl;
                return read.status();
              }
              labels = *std::move(read);
              return absl::OkStatus();
            });
}

void RepositoryWatcher::ApplyReleaseFile(const std::string& name, const std::string& model_dir,
                                         bool audit) {
  const fs::path path = fs::path(model_dir) / kReleaseFile;
  ApplyFile(name, path, release_seen_, "release_file", audit,
            [&](std::map<std::string, int64_t>&, ReleaseSettings& release) -> absl::Status {
              if (!IsFile(path)) {  // removed: the defaults
                release = ReleaseSettings();
                return absl::OkStatus();
              }
              absl::StatusOr<ReleaseSettings> read =
                  ReadReleaseSettings(path.string(), registry_->max_label_bytes());
              if (!read.ok()) {
                std::cerr << "arginator-server: ignoring release settings: "
                          << read.status().message() << std::endl;
                return read.status();
              }
              release = *std::move(read);
              return absl::OkStatus();
            });
}

void RepositoryWatcher::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      {
        const auto deadline =
            std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(interval_);
        MutexLock lock(&mu_);
        while (!stop_ && !cv_.WaitUntil(&mu_, deadline)) {
        }
        if (stop_) return;
      }
      PollOnce();
    }
  });
}

void RepositoryWatcher::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

std::set<std::string> RepositoryWatcher::models() const {
  MutexLock lock(&mu_);
  return models_;
}

}  // namespace arginator::server
