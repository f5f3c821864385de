#include "server/admin/admin_service.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "server/grpc/grpc_edge.h"
#include "server/v1/v1_request.h"

namespace arginator::server {
namespace {

template <class Request>
std::string ModelOf(const Request& request) {
  return request.name();
}
std::string ModelOf(const v1::RescanRequest&) { return ""; }

// The outcome of an action that changes no label or release setting: its message, with the state
// it left as both before and after.
absl::StatusOr<ReleaseChange> Unchanged(const ModelRegistry& registry, const std::string& model,
                                        const absl::StatusOr<std::string>& message) {
  if (!message.ok()) return message.status();
  ReleaseChange change;
  change.labels_before = change.labels_after = registry.Labels(model);
  change.release_before = change.release_after = registry.Release(model);
  change.message = *message;
  return change;
}

}  // namespace

AdminService::AdminService(ModelRegistry* registry, RepositoryWatcher* watcher,
                           std::map<std::string, std::string> tokens, AuditLog* audit,
                           const ShadowRunner* shadow)
    : registry_(registry),
      watcher_(watcher),
      tokens_(std::move(tokens)),
      audit_(audit),
      shadow_(shadow) {
  worker_ = std::thread([this] { RunWorker(); });
}

AdminService::~AdminService() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  worker_.join();
}

absl::StatusOr<std::string> AdminService::Authorize(
    const grpc::CallbackServerContext* context) const {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("ModelAdmin needs 'authorization: Bearer <token>'");
  }
  const std::string got(it->second.data(), it->second.size());
  // Every token compared in constant time, and all of them: the time taken says nothing of
  // which one (if any) matched.
  std::string identity;
  for (const auto& [name, token] : tokens_) {
    const std::string expected = "Bearer " + token;
    if (got.size() == expected.size() &&
        CRYPTO_memcmp(got.data(), expected.data(), got.size()) == 0) {
      identity = name;
    }
  }
  if (identity.empty()) return absl::UnauthenticatedError("ModelAdmin: wrong bearer token");
  return identity;
}

template <class Request>
grpc::ServerUnaryReactor* AdminService::Respond(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                                                const std::string& action,
                                                std::function<Action(const Request&)> make) {
  // Before the request is even parsed: an unauthenticated peer learns nothing of it.
  absl::StatusOr<std::string> identity = Authorize(context);
  if (!identity.ok()) {
    AuditEntry refused;
    refused.action = action;
    refused.identity = absl::StrCat("unauthenticated peer ", context->peer());
    refused.result = identity.status();
    // Not fsynced: anyone can send these, and this is a gRPC thread requests share.
    if (audit_ != nullptr) audit_->Record(refused, /*durable=*/false);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(identity.status()));
    return reactor;
  }
  return ServeUnary<Request, v1::AdminResponse>(
      context, in, out,
      [this, make, action, identity = *identity](const Request& request,
                                                 v1::AdminResponse* response, UnaryDone done) {
        {
          MutexLock lock(&mu_);
          queue_.push_back(
              {action, ModelOf(request), identity, make(request), response, std::move(done)});
        }
        cv_.Signal();
      });
}

void AdminService::RunWorker() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
    if (queue_.empty()) return;  // stopping, and every queued call answered
    Call call = std::move(queue_.front());
    queue_.pop_front();
    lock.Unlock();
    absl::StatusOr<ReleaseChange> change = call.run();
    AuditEntry entry = AuditLog::ForChange(call.action, call.model, call.identity, change);
    if (!change.ok()) {  // refused: the state it left unchanged
      entry.labels_before = entry.labels_after = registry_->Labels(call.model);
      entry.release_before = entry.release_after = registry_->Release(call.model);
    }
    if (audit_ != nullptr && call.action != "status") audit_->Record(entry);
    if (change.ok()) {
      call.response->set_message(change->message);
      FillStatus(call.model, call.response);
    }
    call.done(change.status());
    lock.Lock();
  }
}

void AdminService::FillStatus(const std::string& model, v1::AdminResponse* response) const {
  for (const ModelView& view : registry_->Snapshot()) {
    if (!model.empty() && view.name != model) continue;
    v1::ReleaseStatus* s = response->add_status();
    s->set_name(view.name);
    s->set_default_label(view.default_label);
    if (view.default_version) s->set_default_version(view.default_version->card.version);
    for (const auto& [label, version] : view.labels) (*s->mutable_labels())[label] = version;
    s->set_canary_percent(view.release.canary_percent);
    s->set_shadow_percent(view.release.shadow_percent);
    if (view.release.previous_until != absl::InfiniteFuture()) {
      s->set_previous_until(
          absl::FormatTime(absl::RFC3339_sec, view.release.previous_until, absl::UTCTimeZone()));
    }
    for (const VersionView& v : view.versions) FillVersionStatus(v, s->add_versions());
    if (shadow_ == nullptr) continue;
    const ShadowSummary summary = shadow_->Summary(view.name);
    if (summary.shadow_version == 0) continue;
    v1::ShadowReport* r = s->mutable_shadow();
    r->set_primary_version(summary.primary_version);
    r->set_shadow_version(summary.shadow_version);
    r->set_rows(summary.rows);
    r->set_agreements(summary.agreements);
    r->set_dropped(summary.dropped);
    for (const auto& [flip, count] : summary.flips) {
      v1::ShadowFlip* f = r->add_flips();
      f->set_from(flip.first);
      f->set_to(flip.second);
      f->set_count(count);
    }
    r->set_mean_probability_drift(summary.mean_probability_drift);
    r->set_max_probability_drift(summary.max_probability_drift);
  }
}

grpc::ServerUnaryReactor* AdminService::LoadVersion(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* in,
                                                    grpc::ByteBuffer* out) {
  return Respond<v1::LoadVersionRequest>(context, in, out, "load", [this](const auto& request) {
    return [this, &request] {
      return Unchanged(*registry_, request.name(), [&]() -> absl::StatusOr<std::string> {
        if (absl::Status s = registry_->Pin(request.name(), request.version()); !s.ok()) return s;
        watcher_->PollOnce();  // starts the load on the load pool
        absl::StatusOr<ServableHandle> handle =
            registry_->AwaitVersion(request.name(), request.version());
        if (!handle.ok()) {
          // A load that did not happen leaves no pin behind: the version must not load by itself
          // when it is published later.
          registry_->Unpin(request.name(), request.version());
          return handle.status();
        }
        return absl::StrCat("version ", request.version(), " of ", request.name(), " is ready");
      }());
    };
  });
}

grpc::ServerUnaryReactor* AdminService::UnloadVersion(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  return Respond<v1::UnloadVersionRequest>(context, in, out, "unload", [this](const auto& request) {
    return [this, &request] {
      return Unchanged(*registry_, request.name(), [&]() -> absl::StatusOr<std::string> {
        if (absl::Status s = registry_->Exclude(request.name(), request.version()); !s.ok()) {
          return s;
        }
        watcher_->PollOnce();
        return absl::StrCat("version ", request.version(), " of ", request.name(),
                            " unloads once its in-flight requests finish");
      }());
    };
  });
}

grpc::ServerUnaryReactor* AdminService::SetVersionLabel(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return Respond<v1::SetVersionLabelRequest>(
      context, in, out, "label_set", [this](const auto& request) {
        return [this, &request] {
          return Unchanged(*registry_, request.name(), [&]() -> absl::StatusOr<std::string> {
            if (absl::Status s =
                    registry_->SetLabel(request.name(), request.label(), request.version());
                !s.ok()) {
              return s;
            }
            return request.version() == 0
                       ? absl::StrCat("label '", request.label(), "' removed from ", request.name())
                       : absl::StrCat("label '", request.label(), "' of ", request.name(),
                                      " -> version ", request.version());
          }());
        };
      });
}

grpc::ServerUnaryReactor* AdminService::Rescan(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return Respond<v1::RescanRequest>(context, in, out, "rescan", [this](const auto&) {
    return [this] {
      watcher_->PollOnce();
      return Unchanged(*registry_, "", std::string("repository rescanned"));
    };
  });
}

grpc::ServerUnaryReactor* AdminService::SetCanary(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* in,
                                                  grpc::ByteBuffer* out) {
  return Respond<v1::SetCanaryRequest>(context, in, out, "canary_set", [this](const auto& request) {
    return [this, &request]() {
      return (registry_->SetCanary(request.name(), request.version(), request.percent()));
    };
  });
}

grpc::ServerUnaryReactor* AdminService::SetShadow(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* in,
                                                  grpc::ByteBuffer* out) {
  return Respond<v1::SetShadowRequest>(context, in, out, "shadow_set", [this](const auto& request) {
    return [this, &request]() {
      return registry_->SetShadow(request.name(), request.version(),
                                  request.has_percent() ? request.percent() : 100.0);
    };
  });
}

grpc::ServerUnaryReactor* AdminService::Promote(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return Respond<v1::PromoteRequest>(context, in, out, "promote", [this](const auto& request) {
    return [this, &request]() { return (registry_->Promote(request.name())); };
  });
}

grpc::ServerUnaryReactor* AdminService::Rollback(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) {
  return Respond<v1::RollbackRequest>(context, in, out, "rollback", [this](const auto& request) {
    return [this, &request]() { return (registry_->Rollback(request.name())); };
  });
}

grpc::ServerUnaryReactor* AdminService::SetDefaultLabel(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return Respond<v1::SetDefaultLabelRequest>(
      context, in, out, "default_label_set", [this](const auto& request) {
        return [this, &request]() {
          return (registry_->SetDefaultLabel(request.name(), request.label()));
        };
      });
}

grpc::ServerUnaryReactor* AdminService::ReleaseStatus(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  return Respond<v1::ReleaseStatusRequest>(context, in, out, "status", [this](const auto& request) {
    return [this, &request] {
      return Unchanged(*registry_, request.name(), [&]() -> absl::StatusOr<std::string> {
        if (!request.name().empty() && !registry_->Knows(request.name())) {
          return absl::NotFoundError(absl::StrCat("model '", request.name(), "' is not served"));
        }
        return std::string("release status");
      }());
    };
  });
}

}  // namespace arginator::server
