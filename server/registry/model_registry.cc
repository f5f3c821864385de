#include "server/registry/model_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model_package.h"

namespace arginator::server {

ModelRegistry::ModelRegistry(Options options, VersionLoader* loader, RegistryObserver* observer)
    : options_(std::move(options)),
      loader_(loader),
      observer_(observer),
      reclaimer_([this](const std::string& name, int64_t version) { OnReclaimed(name, version); },
                 *options_.clock),
      pool_(options_.load_threads) {}

ModelRegistry::~ModelRegistry() { Clear(); }

std::map<int64_t, VersionState> ModelRegistry::States(const ModelEntry& m) const {
  std::map<int64_t, VersionState> states;
  for (const auto& [v, e] : m.versions) states[v] = e.state;
  return states;
}

void ModelRegistry::NotifyStates(const std::string& name) {
  std::map<int64_t, VersionState> states;
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model == models_.end()) return;  // cleared
    states = States(model->second);
  }
  observer_->OnStates(name, states);
}

namespace {

absl::Status NotAVersion(int64_t version) {
  return absl::InvalidArgumentError(
      absl::StrCat("version ", version, " is not a version: versions are positive integers"));
}

}  // namespace

absl::Status ModelRegistry::ModelNotFound(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& [n, m] : models_) names.push_back(n);
  return absl::NotFoundError(absl::StrCat("model '", name, "' is not served; served models: ",
                                          names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

int64_t ModelRegistry::DefaultVersion(const std::string& name) const {
  auto handle = Get(name, {});
  return handle.ok() ? (*handle)->card.version : 0;
}

void ModelRegistry::Reconcile(const std::string& name,
                              const std::map<int64_t, VersionOnDisk>& on_disk) {
  const absl::Time now = options_.clock->Now();
  std::vector<std::pair<int64_t, VersionOnDisk>> to_load;
  {
    MutexLock lock(&mu_);
    ModelEntry& m = models_[name];
    std::set<int64_t> disk;
    for (const auto& [v, dir] : on_disk) disk.insert(v);
    auto own = options_.model_policies.find(name);
    std::set<int64_t> desired =
        DesiredVersions(own == options_.model_policies.end() ? options_.policy : own->second, disk);
    for (int64_t v : m.pinned) {
      if (disk.count(v)) desired.insert(v);
    }
    for (const auto& [label, v] : m.labels) {  // a label keeps its version served
      if (disk.count(v)) desired.insert(v);
    }
    for (int64_t v : m.excluded) desired.erase(v);
    m.desired = desired;
    // Forget failed or unloaded versions whose directories are gone.
    for (auto it = m.versions.begin(); it != m.versions.end();) {
      bool gone = !disk.count(it->first) && (it->second.state == VersionState::kFailed ||
                                             it->second.state == VersionState::kUnloaded);
      it = gone ? m.versions.erase(it) : std::next(it);
    }
    for (int64_t v : PlanTransitions(desired, States(m)).load) {
      VersionEntry& e = m.versions[v];
      e = VersionEntry();  // kLoading
      e.dir = on_disk.at(v).dir;
      to_load.emplace_back(v, on_disk.at(v));
    }
    // A failed version whose files changed since (a copy that was not atomic, a fixed model.pt)
    // is tried again once its backoff has passed.
    for (int64_t v : desired) {
      auto found = m.versions.find(v);
      if (found == m.versions.end()) continue;
      VersionEntry& e = found->second;
      if (e.state == VersionState::kFailed && e.fingerprint != on_disk.at(v).fingerprint &&
          now >= e.retry_after) {
        e.state = VersionState::kLoading;
        e.reason.clear();
        e.dir = on_disk.at(v).dir;
        to_load.emplace_back(v, on_disk.at(v));
      }
    }
    loads_in_flight_ += static_cast<int>(to_load.size());
  }
  if (!to_load.empty()) NotifyStates(name);
  for (const auto& [v, files] : to_load) {
    pool_.Submit([this, name, v = v, files = files] {
      LoadOne(name, v, files);
      Settle(name);
      {
        MutexLock lock(&mu_);
        --loads_in_flight_;
      }
      loads_done_.SignalAll();
    });
  }
  Settle(name);
}

void ModelRegistry::Settle(const std::string& name) {
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model == models_.end()) return;  // cleared
    for (int64_t v : PlanTransitions(model->second.desired, States(model->second)).unload) {
      Unload(name, v);
    }
  }
  NotifyStates(name);
  const int64_t serving = DefaultVersion(name);
  int64_t previous = 0;
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model == models_.end() || serving == 0 || model->second.serving == serving) return;
    previous = model->second.serving;
    model->second.serving = serving;
  }
  observer_->OnServing(name, serving, previous);
}

void ModelRegistry::AwaitLoads() {
  MutexLock lock(&mu_);
  while (loads_in_flight_ != 0) loads_done_.Wait(&mu_);
}

bool ModelRegistry::Loading(const std::string& name, int64_t version) const {
  auto model = models_.find(name);
  if (model == models_.end()) return false;
  auto entry = model->second.versions.find(version);
  return entry != model->second.versions.end() && entry->second.state == VersionState::kLoading;
}

absl::StatusOr<ServableHandle> ModelRegistry::AwaitVersion(const std::string& name,
                                                           int64_t version) {
  {
    MutexLock lock(&mu_);
    while (Loading(name, version)) loads_done_.Wait(&mu_);
  }
  return Get(name, {version, std::nullopt});
}

void ModelRegistry::LoadOne(const std::string& name, int64_t version, const VersionOnDisk& files) {
  const absl::Time start = options_.clock->Now();
  absl::StatusOr<std::shared_ptr<ServableVersion>> loaded = loader_->Load(name, version, files.dir);
  const absl::Duration took = options_.clock->Now() - start;
  const absl::Status status = loaded.status();
  std::shared_ptr<ServableVersion> servable = status.ok() ? *std::move(loaded) : nullptr;
  {
    MutexLock lock(&mu_);
    VersionEntry& e = models_[name].versions[version];
    e.fingerprint = files.fingerprint;
    if (status.ok()) {
      e.state = VersionState::kReady;
      e.servable = reclaimer_.Track(std::move(servable));
      e.failures = 0;
    } else {
      MarkEntryFailed(e, std::string(status.message()));
    }
  }
  if (status.ok()) {
    observer_->OnLoaded(name, version, took);
  } else {
    observer_->OnLoadFailed(name, version, status, took);
  }
}

void ModelRegistry::MarkEntryFailed(VersionEntry& e, std::string reason) const {
  e.state = VersionState::kFailed;
  e.reason = std::move(reason);
  ++e.failures;
  absl::Duration backoff = options_.retry_backoff;
  for (int i = 1; i < e.failures && backoff < options_.max_retry_backoff; ++i) backoff *= 2;
  e.retry_after = options_.clock->Now() + std::min(backoff, options_.max_retry_backoff);
}

void ModelRegistry::Unload(const std::string& name, int64_t version) {
  ModelEntry& m = models_[name];
  VersionEntry& e = m.versions[version];
  e.state = VersionState::kUnloading;
  e.reason = "no longer wanted by the version policy";
  e.servable.reset();  // the reclaimer destroys it once its requests release it
}

void ModelRegistry::OnReclaimed(const std::string& name, int64_t version) {
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model != models_.end()) {
      auto entry = model->second.versions.find(version);
      if (entry != model->second.versions.end() &&
          entry->second.state == VersionState::kUnloading) {
        entry->second.state = VersionState::kUnloaded;
      }
    }
  }
  observer_->OnUnloaded(name, version);
  NotifyStates(name);
}

void ModelRegistry::FlushUnloads() { reclaimer_.Flush(); }

bool ModelRegistry::MarkFailed(const ServableVersion* servable, const absl::Status& why) {
  const std::string& name = servable->card.name;
  const int64_t version = servable->card.version;
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model == models_.end()) return false;
    auto it = model->second.versions.find(version);
    if (it == model->second.versions.end() || it->second.state != VersionState::kReady ||
        it->second.servable.get() != servable) {
      return false;
    }
    VersionEntry& e = it->second;
    e.servable.reset();  // destroyed once its in-flight requests release it
    MarkEntryFailed(e, absl::StrCat("failed while serving: ", why.message()));
  }
  observer_->OnFailedWhileServing(name, version, why);
  NotifyStates(name);
  return true;
}

bool ModelRegistry::Knows(const std::string& name) const {
  MutexLock lock(&mu_);
  return models_.count(name) > 0;
}

bool ModelRegistry::ForgetIfEmpty(const std::string& name) {
  MutexLock lock(&mu_);
  auto it = models_.find(name);
  if (it == models_.end() || !it->second.versions.empty()) {
    return false;
  }
  models_.erase(it);
  return true;
}

absl::StatusOr<ServableHandle> ModelRegistry::Get(const std::string& name,
                                                  const VersionSelector& selector) const {
  MutexLock lock(&mu_);
  auto model = models_.find(name);
  if (model == models_.end()) return ModelNotFound(name);
  const ModelEntry& m = model->second;
  auto ready_list = [&] {
    std::vector<int64_t> ready;
    for (const auto& [v, e] : m.versions) {
      if (e.state == VersionState::kReady) ready.push_back(v);
    }
    return ready.empty() ? std::string("none") : absl::StrJoin(ready, ", ");
  };
  auto pick = [&](int64_t v) -> absl::StatusOr<ServableHandle> {
    auto it = m.versions.find(v);
    if (it == m.versions.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' has no version ", v,
                                              "; ready versions: ", ready_list()));
    }
    if (it->second.state != VersionState::kReady) {
      return absl::UnavailableError(absl::StrCat(
          "version ", v, " of model '", name, "' is ", VersionStateName(it->second.state),
          it->second.reason.empty() ? "" : ": " + it->second.reason));
    }
    return ServableHandle(it->second.servable);
  };
  if (selector.version) return pick(*selector.version);
  std::optional<std::string> label = selector.label;
  if (!label) {
    auto configured = options_.default_labels.find(name);
    if (configured != options_.default_labels.end() && m.labels.count(configured->second)) {
      label = configured->second;
    }
  }
  if (label) {
    auto it = m.labels.find(*label);
    if (it == m.labels.end()) {
      std::vector<std::string> labels;
      for (const auto& [l, v] : m.labels) labels.push_back(l);
      return absl::NotFoundError(
          absl::StrCat("model '", name, "' has no version label '", *label,
                       "'; labels: ", labels.empty() ? "none" : absl::StrJoin(labels, ", ")));
    }
    return pick(it->second);
  }
  for (auto it = m.versions.rbegin(); it != m.versions.rend(); ++it) {
    if (it->second.state == VersionState::kReady) return ServableHandle(it->second.servable);
  }
  if (m.versions.empty()) {
    return absl::UnavailableError(absl::StrCat("model '", name, "' has no ready version yet"));
  }
  const auto& [latest, entry] = *m.versions.rbegin();  // why the newest is not serving
  return absl::UnavailableError(absl::StrCat("model '", name, "' has no ready version; version ",
                                             latest, " is ", VersionStateName(entry.state),
                                             entry.reason.empty() ? "" : ": " + entry.reason));
}

absl::Status ModelRegistry::Pin(const std::string& name, int64_t version) {
  if (version <= 0) return NotAVersion(version);
  MutexLock lock(&mu_);
  auto model = models_.find(name);
  if (model == models_.end()) return ModelNotFound(name);
  model->second.excluded.erase(version);
  model->second.pinned.insert(version);
  auto it = model->second.versions.find(version);
  if (it != model->second.versions.end() && it->second.state == VersionState::kFailed) {
    model->second.versions.erase(it);  // an explicit load retries a failed version
  }
  return absl::OkStatus();
}

void ModelRegistry::Unpin(const std::string& name, int64_t version) {
  MutexLock lock(&mu_);
  auto model = models_.find(name);
  if (model != models_.end()) model->second.pinned.erase(version);
}

absl::Status ModelRegistry::Exclude(const std::string& name, int64_t version) {
  if (version <= 0) return NotAVersion(version);
  MutexLock lock(&mu_);
  auto model = models_.find(name);
  if (model == models_.end()) return ModelNotFound(name);
  ModelEntry& m = model->second;
  auto it = m.versions.find(version);
  if (it == m.versions.end() || it->second.state != VersionState::kReady) {
    return absl::NotFoundError(
        absl::StrCat("version ", version, " of model '", name, "' is not loaded"));
  }
  for (const auto& [label, v] : m.labels) {
    if (v == version) {
      return absl::FailedPreconditionError(absl::StrCat("version ", version, " of '", name,
                                                        "' carries label '", label,
                                                        "'; move the label first"));
    }
  }
  int ready = 0;
  for (const auto& [v, e] : m.versions) ready += e.state == VersionState::kReady;
  if (ready == 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", version, " is the last ready version of '", name, "'; load another first"));
  }
  m.pinned.erase(version);
  m.excluded.insert(version);
  Unload(name, version);
  return absl::OkStatus();
}

absl::Status ModelRegistry::SetLabel(const std::string& name, const std::string& label,
                                     int64_t version) {
  std::map<std::string, int64_t> labels;
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model == models_.end()) return ModelNotFound(name);
    if (label.empty() || label.size() > options_.max_label_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("a version label must have 1 to ",
                                                     options_.max_label_bytes,
                                                     " bytes; this one has ", label.size()));
    }
    if (version < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "version ", version, " is not a version (a positive number, or 0 to remove the label)"));
    }
    labels = model->second.labels;
    if (version != 0 && !labels.count(label) && labels.size() >= kMaxLabelsPerModel) {
      return absl::ResourceExhaustedError(absl::StrCat("'", name, "' has ", labels.size(),
                                                       " version labels, the limit; remove one "
                                                       "first"));
    }
    if (version == 0) {
      labels.erase(label);
    } else {
      auto it = model->second.versions.find(version);
      if (it == model->second.versions.end() || it->second.state != VersionState::kReady) {
        return absl::FailedPreconditionError(
            absl::StrCat("label '", label, "' can only point at a ready version; version ", version,
                         " of '", name, "' is not ready"));
      }
      labels[label] = version;
    }
  }
  // Escaped characters can make a file of 64 labels longer than the limit the watcher reads.
  if (const size_t bytes = SerializeVersionLabels(labels).size(); bytes > kMaxLabelsFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the labels of '", name, "' would take ", bytes,
                                                   " bytes in ", kVersionLabelsFile,
                                                   ", over its limit of ", kMaxLabelsFileBytes));
  }
  // Written outside the lock (a durable write takes milliseconds; requests take this lock).
  // Admin calls are serialized, so nothing else changes the labels meanwhile but the watcher,
  // which applies this same file next.
  if (options_.persist_labels) {
    if (absl::Status s = options_.persist_labels(name, labels); !s.ok()) return s;
  }
  ReplaceLabels(name, std::move(labels));
  return absl::OkStatus();
}

void ModelRegistry::ReplaceLabels(const std::string& name, std::map<std::string, int64_t> labels) {
  MutexLock lock(&mu_);
  models_[name].labels = std::move(labels);
}

std::vector<ModelView> ModelRegistry::Snapshot() const {
  std::vector<ModelView> out;
  for (const auto& [name, m] : [this] {
         MutexLock lock(&mu_);
         return models_;
       }()) {
    ModelView view{name, nullptr, {}};
    auto handle = Get(name, {});
    if (handle.ok()) view.default_version = *handle;
    for (const auto& [v, e] : m.versions) {
      VersionView vv{v, e.state, e.reason, {}};
      for (const auto& [label, lv] : m.labels) {
        if (lv == v) vv.labels.push_back(label);
      }
      view.versions.push_back(std::move(vv));
    }
    out.push_back(std::move(view));
  }
  return out;
}

bool ModelRegistry::AllReady(const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    if (!Get(name, {}).ok()) return false;
  }
  return true;
}

void ModelRegistry::Clear() {
  AwaitLoads();
  std::map<std::string, ModelEntry> models;
  {
    MutexLock lock(&mu_);
    models.swap(models_);
  }
  // Drain every batcher while the versions are still held, so that queued requests are answered
  // before the versions go; dropping them then hands them to the reclaimer.
  for (auto& [name, m] : models) {
    for (auto& [v, e] : m.versions) {
      if (e.servable && e.servable->batcher) e.servable->batcher->Stop();
    }
  }
  models.clear();
  reclaimer_.Flush();
}

}  // namespace arginator::server
