#include "server/admin/admin_service.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "server/grpc/grpc_edge.h"

namespace arginator::server {

AdminService::AdminService(ModelRegistry* registry, RepositoryWatcher* watcher, std::string token)
    : registry_(registry), watcher_(watcher), token_(std::move(token)) {
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

absl::Status AdminService::Authorize(const grpc::CallbackServerContext* context) const {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  const std::string expected = "Bearer " + token_;
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("ModelAdmin needs 'authorization: Bearer <token>'");
  }
  const std::string got(it->second.data(), it->second.size());
  // Constant-time comparison: the token is a secret.
  if (got.size() != expected.size() ||
      CRYPTO_memcmp(got.data(), expected.data(), got.size()) != 0) {
    return absl::UnauthenticatedError("ModelAdmin: wrong bearer token");
  }
  return absl::OkStatus();
}

template <class Request>
grpc::ServerUnaryReactor* AdminService::Respond(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                                                std::function<Action(const Request&)> make) {
  // Before the request is even parsed: an unauthenticated peer learns nothing of it.
  if (absl::Status authorized = Authorize(context); !authorized.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(authorized));
    return reactor;
  }
  return ServeUnary<Request, v1::AdminResponse>(
      context, in, out,
      [this, &make](const Request& request, v1::AdminResponse* response, UnaryDone done) {
        {
          MutexLock lock(&mu_);
          queue_.push_back({make(request), response, std::move(done)});
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
    absl::StatusOr<std::string> message = call.action();
    if (message.ok()) call.response->set_message(*message);
    call.done(message.status());
    lock.Lock();
  }
}

grpc::ServerUnaryReactor* AdminService::LoadVersion(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* in,
                                                    grpc::ByteBuffer* out) {
  return Respond<v1::LoadVersionRequest>(context, in, out, [this](const auto& request) {
    return [this, &request]() -> absl::StatusOr<std::string> {
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
    };
  });
}

grpc::ServerUnaryReactor* AdminService::UnloadVersion(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  return Respond<v1::UnloadVersionRequest>(context, in, out, [this](const auto& request) {
    return [this, &request]() -> absl::StatusOr<std::string> {
      if (absl::Status s = registry_->Exclude(request.name(), request.version()); !s.ok()) {
        return s;
      }
      watcher_->PollOnce();
      return absl::StrCat("version ", request.version(), " of ", request.name(),
                          " unloads once its in-flight requests finish");
    };
  });
}

grpc::ServerUnaryReactor* AdminService::SetVersionLabel(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* in,
                                                        grpc::ByteBuffer* out) {
  return Respond<v1::SetVersionLabelRequest>(context, in, out, [this](const auto& request) {
    return [this, &request]() -> absl::StatusOr<std::string> {
      if (absl::Status s = registry_->SetLabel(request.name(), request.label(), request.version());
          !s.ok()) {
        return s;
      }
      return request.version() == 0
                 ? absl::StrCat("label '", request.label(), "' removed from ", request.name())
                 : absl::StrCat("label '", request.label(), "' of ", request.name(), " -> version ",
                                request.version());
    };
  });
}

grpc::ServerUnaryReactor* AdminService::Rescan(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return Respond<v1::RescanRequest>(context, in, out, [this](const auto&) {
    return [this]() -> absl::StatusOr<std::string> {
      watcher_->PollOnce();
      return std::string("repository rescanned");
    };
  });
}

}  // namespace arginator::server
