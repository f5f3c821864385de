#pragma once

#include <string>

#include "arginator/v1/classifier.grpc.pb.h"
#include "server/registry/model_registry.h"
#include "server/registry/repository_watcher.h"

namespace arginator::server {

// ModelAdmin: load or unload a version, point a version label at one, rescan the repository.
// Registered only when the config enables it; every call must carry
// "authorization: Bearer <token>" (UNAUTHENTICATED otherwise). Calls rescan synchronously, so the
// answer says what happened; they are rare and may block a callback thread for a model load.
class AdminService final : public v1::ModelAdmin::CallbackService {
 public:
  AdminService(ModelRegistry* registry, RepositoryWatcher* watcher, std::string token);

  grpc::ServerUnaryReactor* LoadVersion(grpc::CallbackServerContext* context,
                                        const v1::LoadVersionRequest* request,
                                        v1::AdminResponse* response) override;
  grpc::ServerUnaryReactor* UnloadVersion(grpc::CallbackServerContext* context,
                                          const v1::UnloadVersionRequest* request,
                                          v1::AdminResponse* response) override;
  grpc::ServerUnaryReactor* SetVersionLabel(grpc::CallbackServerContext* context,
                                            const v1::SetVersionLabelRequest* request,
                                            v1::AdminResponse* response) override;
  grpc::ServerUnaryReactor* Rescan(grpc::CallbackServerContext* context,
                                   const v1::RescanRequest* request,
                                   v1::AdminResponse* response) override;

 private:
  absl::Status Authorize(const grpc::CallbackServerContext* context) const;
  // Runs `action` if authorized and finishes the call with its status.
  grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                    v1::AdminResponse* response,
                                    const std::function<absl::StatusOr<std::string>()>& action);

  ModelRegistry* const registry_;
  RepositoryWatcher* const watcher_;
  const std::string token_;
};

}  // namespace arginator::server
