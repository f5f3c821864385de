#include "server/registry/model_registry.h"

#include <cmath>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model_package.h"
#include "common/status_macros.h"

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
  return Get(name, {version, std::nullopt, {}});
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

namespace {

// A request's place in [0, 1) for a split: from its id's hash when it has one, salted per split,
// else the next point of a Weyl sequence (an even spread).
double Draw(const std::optional<uint64_t>& request_hash, uint64_t salt,
            std::atomic<uint64_t>& draws, double step) {
  if (request_hash) {
    uint64_t h = *request_hash ^ salt;  // splitmix64's finalizer
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return static_cast<double>(h >> 11) * 0x1.0p-53;
  }
  const double x = static_cast<double>(draws.fetch_add(1, std::memory_order_relaxed)) * step;
  return x - std::floor(x);
}

constexpr uint64_t kCanarySalt = 0x63616e617279ULL;  // "canary"
constexpr uint64_t kShadowSalt = 0x736861646f77ULL;  // "shadow"

}  // namespace

int64_t ModelRegistry::EffectiveDefault(const std::string& name, const ModelEntry& m) const {
  if (auto it = m.labels.find(DefaultLabel(name, m)); it != m.labels.end()) return it->second;
  for (auto it = m.versions.rbegin(); it != m.versions.rend(); ++it) {
    if (it->second.state == VersionState::kReady) return it->first;
  }
  return 0;
}

std::string ModelRegistry::DefaultLabel(const std::string& name, const ModelEntry& m) const {
  if (!m.release.default_label.empty()) return m.release.default_label;
  auto configured = options_.default_labels.find(name);
  return configured != options_.default_labels.end() ? configured->second : kStableLabel;
}

absl::StatusOr<Route> ModelRegistry::Resolve(const std::string& name, const ModelEntry& m,
                                             const VersionSelector& selector, bool split) const {
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
  auto ready_by_label = [&](const char* label) -> ServableHandle {
    auto l = m.labels.find(label);
    if (l == m.labels.end()) return nullptr;
    auto it = m.versions.find(l->second);
    return it != m.versions.end() && it->second.state == VersionState::kReady ? it->second.servable
                                                                              : nullptr;
  };
  Route route;
  if (selector.version || selector.label) {
    absl::StatusOr<ServableHandle> handle = absl::UnknownError("");
    if (selector.version) {
      handle = pick(*selector.version);
    } else {
      auto it = m.labels.find(*selector.label);
      if (it == m.labels.end()) {
        std::vector<std::string> labels;
        for (const auto& [l, v] : m.labels) labels.push_back(l);
        return absl::NotFoundError(
            absl::StrCat("model '", name, "' has no version label '", *selector.label,
                         "'; labels: ", labels.empty() ? "none" : absl::StrJoin(labels, ", ")));
      }
      handle = pick(it->second);
    }
    if (!handle.ok()) return handle.status();
    route.primary = *std::move(handle);
    return route;
  }
  if (auto it = m.labels.find(DefaultLabel(name, m)); it != m.labels.end()) {
    absl::StatusOr<ServableHandle> handle = pick(it->second);
    if (!handle.ok()) return handle.status();
    route.primary = *std::move(handle);
  } else {
    for (auto it = m.versions.rbegin(); it != m.versions.rend(); ++it) {
      if (it->second.state == VersionState::kReady) {
        route.primary = it->second.servable;
        break;
      }
    }
  }
  if (!route.primary) {
    if (m.versions.empty()) {
      return absl::UnavailableError(absl::StrCat("model '", name, "' has no ready version yet"));
    }
    const auto& [latest, entry] = *m.versions.rbegin();  // why the newest is not serving
    return absl::UnavailableError(absl::StrCat("model '", name, "' has no ready version; version ",
                                               latest, " is ", VersionStateName(entry.state),
                                               entry.reason.empty() ? "" : ": " + entry.reason));
  }
  if (!split) return route;
  const int64_t primary_version = route.primary->card.version;
  if (m.release.canary_percent > 0) {
    ServableHandle canary = ready_by_label(kCanaryLabel);
    if (canary && canary->card.version != primary_version &&
        Draw(selector.request_hash, kCanarySalt, draws_, 0.6180339887498949) * 100 <
            m.release.canary_percent) {
      route.primary = std::move(canary);
      route.canary = true;
      return route;
    }
  }
  if (m.release.shadow_percent > 0) {
    ServableHandle shadow = ready_by_label(kShadowLabel);
    if (shadow && shadow->card.version != primary_version &&
        Draw(selector.request_hash, kShadowSalt, draws_, 0.4142135623730950) * 100 <
            m.release.shadow_percent) {
      route.shadow = std::move(shadow);
    }
  }
  return route;
}

absl::StatusOr<ServableHandle> ModelRegistry::Get(const std::string& name,
                                                  const VersionSelector& selector) const {
  MutexLock lock(&mu_);
  auto model = models_.find(name);
  if (model == models_.end()) return ModelNotFound(name);
  absl::StatusOr<Route> route = Resolve(name, model->second, selector, /*split=*/false);
  if (!route.ok()) return route.status();
  return std::move(route->primary);
}

absl::StatusOr<Route> ModelRegistry::RouteRequest(const std::string& name,
                                                  const VersionSelector& selector) const {
  MutexLock lock(&mu_);
  auto model = models_.find(name);
  if (model == models_.end()) return ModelNotFound(name);
  return Resolve(name, model->second, selector, /*split=*/true);
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
  if (label.empty() || label.size() > options_.max_label_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("a version label must have 1 to ",
                                                   options_.max_label_bytes,
                                                   " bytes; this one has ", label.size()));
  }
  if (version < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version ", version, " is not a version (a positive number, or 0 to remove the label)"));
  }
  return Change(name,
                [&](const ModelEntry& m, std::map<std::string, int64_t>& labels, ReleaseSettings&,
                    std::string&) -> absl::Status {
                  if (version == 0) {
                    labels.erase(label);
                    return absl::OkStatus();
                  }
                  if (!labels.count(label) && labels.size() >= kMaxLabelsPerModel) {
                    return absl::ResourceExhaustedError(
                        absl::StrCat("'", name, "' has ", labels.size(),
                                     " version labels, the limit; remove one first"));
                  }
                  auto it = m.versions.find(version);
                  if (it == m.versions.end() || it->second.state != VersionState::kReady) {
                    return absl::FailedPreconditionError(absl::StrCat(
                        "label '", label, "' can only point at a ready version; version ", version,
                        " of '", name, "' is not ready"));
                  }
                  labels[label] = version;
                  return absl::OkStatus();
                })
      .status();
}

absl::StatusOr<ReleaseChange> ModelRegistry::Change(const std::string& name,
                                                    const ReleaseEdit& edit) {
  MutexLock change_lock(&change_mu_);
  ReleaseChange change;
  {
    MutexLock lock(&mu_);
    auto model = models_.find(name);
    if (model == models_.end()) return ModelNotFound(name);
    change.labels_before = change.labels_after = model->second.labels;
    change.release_before = change.release_after = model->second.release;
    if (absl::Status s =
            edit(model->second, change.labels_after, change.release_after, change.message);
        !s.ok()) {
      return s;
    }
  }
  // What the watcher could not read back must not be written (a restart would lose it all).
  if (change.labels_after.size() > kMaxLabelsPerModel) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "'", name, "' would have ", change.labels_after.size(),
        " version labels, over the limit of ", kMaxLabelsPerModel, "; remove one first"));
  }
  if (const size_t bytes = SerializeReleaseSettings(change.release_after).size();
      bytes > kMaxReleaseFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the release settings of '", name, "' would take ", bytes, " bytes in ",
                     kReleaseFile, ", over its limit of ", kMaxReleaseFileBytes));
  }
  // Escaped characters can make a file of 64 labels longer than the limit the watcher reads.
  if (const size_t bytes = SerializeVersionLabels(change.labels_after).size();
      bytes > kMaxLabelsFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the labels of '", name, "' would take ", bytes,
                                                   " bytes in ", kVersionLabelsFile,
                                                   ", over its limit of ", kMaxLabelsFileBytes));
  }
  // Written outside mu_ (a durable write takes milliseconds; requests take mu_). Changes are
  // serialized by change_mu_, so nothing else changes these meanwhile but the watcher, which
  // applies these same files next.
  const bool labels_changed = change.labels_after != change.labels_before;
  if (options_.persist_labels && labels_changed) {
    if (absl::Status s = options_.persist_labels(name, change.labels_after); !s.ok()) return s;
  }
  if (options_.persist_release && change.release_after != change.release_before) {
    if (absl::Status s = options_.persist_release(name, change.release_after); !s.ok()) {
      // Half a change must not reach the watcher (it would apply the labels alone, as a hand
      // edit): the labels file goes back to what it held.
      if (options_.persist_labels && labels_changed) {
        (void)options_.persist_labels(name, change.labels_before);
      }
      return s;
    }
  }
  MutexLock lock(&mu_);
  ModelEntry& m = models_[name];
  m.labels = change.labels_after;
  m.release = change.release_after;
  return change;
}

namespace {

absl::Status ReadyFor(const std::map<int64_t, VersionState>& states, const std::string& name,
                      int64_t version, const std::string& role) {
  auto it = states.find(version);
  if (it == states.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", version, " of '", name, "' is not loaded; load it before making it ", role));
  }
  if (it->second != VersionState::kReady) {
    return absl::FailedPreconditionError(absl::StrCat("version ", version, " of '", name, "' is ",
                                                      VersionStateName(it->second),
                                                      ", not ready to be ", role));
  }
  return absl::OkStatus();
}

std::string LabelVersion(const std::map<std::string, int64_t>& labels, const std::string& label) {
  auto it = labels.find(label);
  return it == labels.end() ? std::string("none") : absl::StrCat(it->second);
}

}  // namespace

absl::StatusOr<ReleaseChange> ModelRegistry::Promote(const std::string& name) {
  const absl::Time now = options_.clock->Now();
  return Change(
      name,
      [&](const ModelEntry& m, std::map<std::string, int64_t>& labels, ReleaseSettings& release,
          std::string& message) -> absl::Status {
        const std::string stable = DefaultLabel(name, m);
        auto canary = labels.find(kCanaryLabel);
        if (canary == labels.end()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "'", name, "' has no canary to promote; set one first (label '", kCanaryLabel, "')"));
        }
        const int64_t to = canary->second;
        ARG_RETURN_IF_ERROR(ReadyFor(States(m), name, to, "promoted"));
        // What default requests get now: the label's version, or (no such label yet) the newest.
        const int64_t from = EffectiveDefault(name, m);
        if (from == to) {
          return absl::FailedPreconditionError(
              absl::StrCat("'", name, "': the canary is version ", to, ", already the default"));
        }
        message = absl::StrCat("'", stable, "' of ", name, ": ",
                               from > 0 ? absl::StrCat(from) : "none", " -> ", to);
        if (from > 0) {
          labels[kPreviousLabel] = from;
          // Whole seconds, as release.json records it: what the file says is what the server holds.
          release.previous_until =
              absl::FromUnixSeconds(absl::ToUnixSeconds(now + options_.previous_grace));
          absl::StrAppend(
              &message, "; version ", from, " kept as '", kPreviousLabel, "' until ",
              absl::FormatTime(absl::RFC3339_sec, release.previous_until, absl::UTCTimeZone()),
              " for a rollback");
        } else {
          labels.erase(kPreviousLabel);
        }
        labels[stable] = to;
        labels.erase(kCanaryLabel);
        release.canary_percent = 0;
        auto shadow = labels.find(kShadowLabel);
        if (shadow != labels.end() && shadow->second == to) labels.erase(shadow);
        return absl::OkStatus();
      });
}

absl::StatusOr<ReleaseChange> ModelRegistry::Rollback(const std::string& name) {
  return Change(name,
                [&](const ModelEntry& m, std::map<std::string, int64_t>& labels,
                    ReleaseSettings& release, std::string& message) -> absl::Status {
                  const std::string stable = DefaultLabel(name, m);
                  // The latest step first: a canary in progress is withdrawn; after a promote (no
                  // canary left), the default label goes back to `previous`.
                  if (auto canary = labels.find(kCanaryLabel); canary != labels.end()) {
                    message = absl::StrCat("canary of ", name, " (version ", canary->second,
                                           ") withdrawn; every default request goes to '", stable,
                                           "' (", LabelVersion(labels, stable), ")");
                    labels.erase(canary);
                    release.canary_percent = 0;
                    return absl::OkStatus();
                  }
                  if (auto previous = labels.find(kPreviousLabel); previous != labels.end()) {
                    const int64_t to = previous->second;
                    ARG_RETURN_IF_ERROR(ReadyFor(States(m), name, to, "rolled back to"));
                    message =
                        absl::StrCat("'", stable, "' of ", name, ": ", LabelVersion(labels, stable),
                                     " -> ", to, " (rolled back)");
                    labels[stable] = to;
                    labels.erase(kPreviousLabel);
                    release.previous_until = absl::InfiniteFuture();
                    return absl::OkStatus();
                  }
                  return absl::FailedPreconditionError(
                      absl::StrCat("'", name, "' has nothing to roll back: no canary and no '",
                                   kPreviousLabel, "' version (a promote sets it)"));
                });
}

namespace {

absl::Status CheckPercent(double percent) {
  if (!(percent >= 0 && percent <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a share of requests is a percentage from 0 to 100, not ", percent));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReleaseChange> ModelRegistry::SetCanary(const std::string& name, int64_t version,
                                                       double percent) {
  ARG_RETURN_IF_ERROR(CheckPercent(percent));
  if (version < 0) return NotAVersion(version);
  return Change(name,
                [&](const ModelEntry& m, std::map<std::string, int64_t>& labels,
                    ReleaseSettings& release, std::string& message) -> absl::Status {
                  if (version > 0) {
                    ARG_RETURN_IF_ERROR(ReadyFor(States(m), name, version, "the canary"));
                    if (EffectiveDefault(name, m) == version) {
                      return absl::FailedPreconditionError(absl::StrCat(
                          "version ", version, " of '", name,
                          "' is already the default; a canary must be another version"));
                    }
                    labels[kCanaryLabel] = version;
                  } else if (!labels.count(kCanaryLabel)) {
                    return absl::FailedPreconditionError(
                        absl::StrCat("'", name, "' has no canary version; name one"));
                  }
                  release.canary_percent = percent;
                  message = absl::StrCat("canary of ", name, ": version ", labels[kCanaryLabel],
                                         " takes ", percent, "% of default requests");
                  return absl::OkStatus();
                });
}

absl::StatusOr<ReleaseChange> ModelRegistry::SetShadow(const std::string& name, int64_t version,
                                                       double percent) {
  ARG_RETURN_IF_ERROR(CheckPercent(percent));
  if (version < 0) return NotAVersion(version);
  return Change(name,
                [&](const ModelEntry& m, std::map<std::string, int64_t>& labels,
                    ReleaseSettings& release, std::string& message) -> absl::Status {
                  if (version == 0) {
                    labels.erase(kShadowLabel);
                    message = absl::StrCat("shadowing of ", name, " stopped");
                    return absl::OkStatus();
                  }
                  ARG_RETURN_IF_ERROR(ReadyFor(States(m), name, version, "the shadow"));
                  labels[kShadowLabel] = version;
                  release.shadow_percent = percent;
                  message = absl::StrCat("version ", version, " of ", name, " shadows ", percent,
                                         "% of default requests");
                  return absl::OkStatus();
                });
}

absl::StatusOr<ReleaseChange> ModelRegistry::SetDefaultLabel(const std::string& name,
                                                             const std::string& label) {
  if (label.size() > options_.max_label_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a version label has at most ", options_.max_label_bytes, " bytes"));
  }
  return Change(name,
                [&](const ModelEntry& m, std::map<std::string, int64_t>&, ReleaseSettings& release,
                    std::string& message) -> absl::Status {
                  if (!label.empty() && !m.labels.count(label)) {
                    return absl::FailedPreconditionError(absl::StrCat(
                        "'", name, "' has no version label '", label,
                        "'; set it first, so that default requests have a version to go to"));
                  }
                  release.default_label = label;
                  ModelEntry after = m;
                  after.release = release;
                  message = absl::StrCat("default requests of ", name, " follow label '",
                                         DefaultLabel(name, after), "'");
                  return absl::OkStatus();
                });
}

std::vector<std::pair<std::string, ReleaseChange>> ModelRegistry::ExpirePrevious() {
  const absl::Time now = options_.clock->Now();
  std::vector<std::string> due;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, m] : models_) {
      if (m.labels.count(kPreviousLabel) && m.release.previous_until <= now) due.push_back(name);
    }
  }
  std::vector<std::pair<std::string, ReleaseChange>> expired;
  for (const std::string& name : due) {
    absl::StatusOr<ReleaseChange> change =
        Change(name,
               [&](const ModelEntry&, std::map<std::string, int64_t>& labels,
                   ReleaseSettings& release, std::string& message) -> absl::Status {
                 auto previous = labels.find(kPreviousLabel);
                 if (previous == labels.end() || release.previous_until > now) {
                   return absl::CancelledError("no longer due");
                 }
                 message = absl::StrCat("'", kPreviousLabel, "' of ", name, " (version ",
                                        previous->second, ") lapsed after its grace");
                 labels.erase(previous);
                 release.previous_until = absl::InfiniteFuture();
                 return absl::OkStatus();
               });
    if (change.ok()) {
      expired.emplace_back(name, *std::move(change));
    } else if (!absl::IsCancelled(change.status())) {
      std::cerr << "arginator-server: '" << kPreviousLabel << "' of " << name
                << " lapsed but could not be removed: " << change.status().message() << std::endl;
    }
  }
  return expired;
}

void ModelRegistry::ReplaceLabels(const std::string& name, std::map<std::string, int64_t> labels) {
  MutexLock lock(&mu_);
  models_[name].labels = std::move(labels);
}

std::optional<ReleaseChange> ModelRegistry::ApplyFiles(const std::string& name,
                                                       const FileRead& read) {
  MutexLock change_lock(&change_mu_);
  ReleaseChange change;
  {
    MutexLock lock(&mu_);
    const ModelEntry& m = models_[name];
    change.labels_before = change.labels_after = m.labels;
    change.release_before = change.release_after = m.release;
  }
  // The files are read outside mu_ (requests take it) but under change_mu_.
  if (!read(change.labels_after, change.release_after).ok()) return std::nullopt;
  if (change.labels_after == change.labels_before &&
      change.release_after == change.release_before) {
    return std::nullopt;
  }
  MutexLock lock(&mu_);
  ModelEntry& m = models_[name];
  m.labels = change.labels_after;
  m.release = change.release_after;
  return change;
}

std::map<std::string, int64_t> ModelRegistry::Labels(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = models_.find(name);
  return it == models_.end() ? std::map<std::string, int64_t>() : it->second.labels;
}

ReleaseSettings ModelRegistry::Release(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = models_.find(name);
  return it == models_.end() ? ReleaseSettings() : it->second.release;
}

std::vector<ModelView> ModelRegistry::Snapshot() const {
  std::vector<ModelView> out;
  for (const auto& [name, m] : [this] {
         MutexLock lock(&mu_);
         return models_;
       }()) {
    ModelView view{name, nullptr, {}, m.labels, m.release, DefaultLabel(name, m)};
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
