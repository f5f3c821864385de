#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "common/mutex.h"
#include "server/grpc/unary_call.h"
#include "server/registry/audit_log.h"
#include "server/registry/model_registry.h"
#include "server/registry/repository_watcher.h"
#include "server/serving/shadow_runner.h"

namespace arginator::server {

// Every ModelAdmin method, registered raw (unary_call.h): a request that does not parse is
// INVALID_ARGUMENT.
using AdminServiceBase = v1::ModelAdmin::WithRawCallbackMethod_LoadVersion<
    v1::ModelAdmin::WithRawCallbackMethod_UnloadVersion<
        v1::ModelAdmin::WithRawCallbackMethod_SetVersionLabel<
            v1::ModelAdmin::WithRawCallbackMethod_Rescan<
                v1::ModelAdmin::WithRawCallbackMethod_SetCanary<
                    v1::ModelAdmin::WithRawCallbackMethod_SetShadow<
                        v1::ModelAdmin::WithRawCallbackMethod_Promote<
                            v1::ModelAdmin::WithRawCallbackMethod_Rollback<
                                v1::ModelAdmin::WithRawCallbackMethod_SetDefaultLabel<
                                    v1::ModelAdmin::WithRawCallbackMethod_ReleaseStatus<
                                        v1::ModelAdmin::Service>>>>>>>>>>;

// ModelAdmin: load or unload a version, point a version label at one, rescan the repository, and
// release a model (canary share, shadow, promote, rollback, default label, status). Registered
// only when the config enables it; every call must carry "authorization: Bearer <token>" of one
// of the configured tokens (UNAUTHENTICATED otherwise), whose name the audit log records with the
// action, the model, its labels and release settings before and after, and the result (refused
// calls included). Each call rescans where it must before it answers, so the answer says what
// happened; the work runs on the service's own thread, one call at a time, so a slow model load
// never holds a gRPC thread (two concurrent Rescans during one used to take both of gRPC's
// callback threads, and Classify and health with them).
class AdminService final : public AdminServiceBase {
 public:
  // `tokens`: identity name -> bearer token. `shadow` (may be null) reports shadow agreement.
  AdminService(ModelRegistry* registry, RepositoryWatcher* watcher,
               std::map<std::string, std::string> tokens, AuditLog* audit,
               const ShadowRunner* shadow);
  ~AdminService() override;  // answers every queued call, then joins its thread

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
  grpc::ServerUnaryReactor* SetCanary(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SetShadow(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Promote(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SetDefaultLabel(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReleaseStatus(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  // The identity whose token the call carries.
  absl::StatusOr<std::string> Authorize(const grpc::CallbackServerContext* context) const;
  // An action's outcome: its message, and the labels and settings before and after it (the
  // registry's own record for release actions, so the audit shows that action's change alone).
  using Action = std::function<absl::StatusOr<ReleaseChange>()>;
  // Parses the request as Request, authorizes, then queues `make(request)` on the worker, which
  // runs it, audits it as `action` on `model_of(request)` ("" for all models) and finishes the
  // call with its message and the model's release status after it. The request outlives the
  // action (ServeUnary keeps it until the call finishes), so actions may refer to it.
  template <class Request>
  grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                                    const std::string& action,
                                    std::function<Action(const Request&)> make);
  void RunWorker();
  void FillStatus(const std::string& model, v1::AdminResponse* response) const;

  struct Call {
    std::string action, model, identity;
    Action run;
    v1::AdminResponse* response;
    UnaryDone done;
  };

  ModelRegistry* const registry_;
  RepositoryWatcher* const watcher_;
  const std::map<std::string, std::string> tokens_;
  AuditLog* const audit_;
  const ShadowRunner* const shadow_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Call> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace arginator::server
