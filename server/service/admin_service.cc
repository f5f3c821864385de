#include "server/service/admin_service.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "server/service/request_parser.h"

namespace arginator::server {

AdminService::AdminService(ModelRegistry* registry, RepositoryWatcher* watcher, std::string token)
    : registry_(registry), watcher_(watcher), token_(std::move(token)) {}

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

grpc::ServerUnaryReactor* AdminService::Respond(
    grpc::CallbackServerContext* context, v1::AdminResponse* response,
    const std::function<absl::StatusOr<std::string>()>& action) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = Authorize(context);
  if (status.ok()) {
    absl::StatusOr<std::string> message = action();
    if (message.ok()) response->set_message(*message);
    status = message.status();
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::LoadVersion(grpc::CallbackServerContext* context,
                                                    const v1::LoadVersionRequest* request,
                                                    v1::AdminResponse* response) {
  return Respond(context, response, [&]() -> absl::StatusOr<std::string> {
    if (absl::Status s = registry_->Pin(request->name(), request->version()); !s.ok()) return s;
    watcher_->PollOnce();
    absl::StatusOr<ServableHandle> handle =
        registry_->Get(request->name(), {request->version(), std::nullopt});
    if (!handle.ok()) {
      // A load that did not happen leaves no pin behind: the version must not load by itself
      // when it is published later.
      registry_->Unpin(request->name(), request->version());
      return handle.status();
    }
    return absl::StrCat("version ", request->version(), " of ", request->name(), " is ready");
  });
}

grpc::ServerUnaryReactor* AdminService::UnloadVersion(grpc::CallbackServerContext* context,
                                                      const v1::UnloadVersionRequest* request,
                                                      v1::AdminResponse* response) {
  return Respond(context, response, [&]() -> absl::StatusOr<std::string> {
    if (absl::Status s = registry_->Exclude(request->name(), request->version()); !s.ok()) {
      return s;
    }
    watcher_->PollOnce();
    return absl::StrCat("version ", request->version(), " of ", request->name(),
                        " unloads once its in-flight requests finish");
  });
}

grpc::ServerUnaryReactor* AdminService::SetVersionLabel(grpc::CallbackServerContext* context,
                                                        const v1::SetVersionLabelRequest* request,
                                                        v1::AdminResponse* response) {
  return Respond(context, response, [&]() -> absl::StatusOr<std::string> {
    if (absl::Status s = registry_->SetLabel(request->name(), request->label(), request->version());
        !s.ok()) {
      return s;
    }
    return request->version() == 0
               ? absl::StrCat("label '", request->label(), "' removed from ", request->name())
               : absl::StrCat("label '", request->label(), "' of ", request->name(), " -> version ",
                              request->version());
  });
}

grpc::ServerUnaryReactor* AdminService::Rescan(grpc::CallbackServerContext* context,
                                               const v1::RescanRequest*,
                                               v1::AdminResponse* response) {
  return Respond(context, response, [&]() -> absl::StatusOr<std::string> {
    watcher_->PollOnce();
    return std::string("repository rescanned");
  });
}

}  // namespace arginator::server
