#pragma once

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "common/mutex.h"
#include "server/grpc/unary_call.h"
#include "server/registry/model_registry.h"
#include "server/registry/repository_watcher.h"

namespace arginator::server {

// ModelAdmin: load or unload a version, point a version label at one, rescan the repository.
// Registered only when the config enables it; every call must carry
// "authorization: Bearer <token>" (UNAUTHENTICATED otherwise). Each call rescans before it
// answers, so the answer says what happened; the work runs on the service's own thread, one call
// at a time, so a slow model load never holds a gRPC thread (two concurrent Rescans during one
// used to take both of gRPC's callback threads, and Classify and health with them).
class AdminService final
    : public v1::ModelAdmin::WithRawCallbackMethod_LoadVersion<
          v1::ModelAdmin::WithRawCallbackMethod_UnloadVersion<
              v1::ModelAdmin::WithRawCallbackMethod_SetVersionLabel<
                  v1::ModelAdmin::WithRawCallbackMethod_Rescan<v1::ModelAdmin::Service>>>> {
 public:
  AdminService(ModelRegistry* registry, RepositoryWatcher* watcher, std::string token);
  ~AdminService() override;  // answers every queued call, then joins its thread

  // Registered raw (unary_call.h): a request that does not parse is INVALID_ARGUMENT.
  grpc::ServerUnaryReactor* LoadVersion(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UnloadVersion(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SetVersionLabel(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Rescan(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  absl::Status Authorize(const grpc::CallbackServerContext* context) const;
  using Action = std::function<absl::StatusOr<std::string>()>;
  // Parses the request as Request, authorizes, then queues the action `make` returns for it on
  // the worker, which runs it and finishes the call with its message. The request outlives the
  // action (ServeUnary keeps it until the call finishes), so actions may refer to it.
  template <class Request>
  grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                                    std::function<Action(const Request&)> make);
  void RunWorker();

  struct Call {
    Action action;
    v1::AdminResponse* response;
    UnaryDone done;
  };

  ModelRegistry* const registry_;
  RepositoryWatcher* const watcher_;
  const std::string token_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Call> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace arginator::server
