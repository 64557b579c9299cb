#pragma once

// What every handler of a service shares: token verification, the worker pool,
// telemetry and the token codec; and the helpers that run one RPC the same way
// everywhere (authenticate, hand to a worker, map the status once).

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "lib/auth/jwt.h"
#include "lib/auth/principal.h"
#include "lib/server/config.h"
#include "lib/server/executor.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "lib/telemetry/log.h"
#include "lib/telemetry/telemetry.h"

namespace sightline::server {

// One call as the domain sees it.
struct CallContext {
  grpc::CallbackServerContext* grpc = nullptr;
  auth::Principal principal;
  absl::Time deadline = absl::InfiniteFuture();
  // The call's metrics and log line (with its request id), ended when the
  // runtime finishes it.
  mutable telemetry::ServerCall measure;

  // Keeps the caller out of this call's log line (anonymous authors).
  void RedactPrincipal() const { measure.record().redact_principal = true; }
};

class Runtime {
 public:
  // Builds the verifier from the config's key file, the executor and the token
  // codec. Errors name the flag at fault.
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(
      const ServerConfig& config);
  // For tests: explicit parts.
  Runtime(ServerConfig config, std::unique_ptr<auth::TokenVerifier> verifier,
          storage::TokenCodec codec);
  ~Runtime();

  const ServerConfig& config() const { return config_; }
  telemetry::Telemetry& telemetry() { return telemetry_; }
  Executor& executor() { return *executor_; }
  const storage::TokenCodec& tokens() const { return codec_; }
  // For front doors other than gRPC (SCIM over HTTP): the same verification.
  const auth::TokenVerifier& verifier() const { return *verifier_; }

  // Verifies the bearer token of a streaming call and records the principal
  // for its log line.
  absl::StatusOr<auth::Principal> Authenticate(
      grpc::CallbackServerContext* ctx);

  // Runs `fn(const CallContext&) -> absl::Status` for a unary call on a worker,
  // after authentication, and finishes the call with the mapped status.
  template <typename Fn>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, Fn fn) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    CallContext call;
    if (absl::Status auth = BeginUnary(ctx, &call); !auth.ok()) {
      Reply(reactor, call, status::ToGrpc(auth));
      return reactor;
    }
    RunOnWorker(reactor, std::move(call), std::move(fn));
    return reactor;
  }

  // Like Unary, but first tries `fast(const CallContext&) ->
  // std::optional<absl::Status>` on the gRPC thread. `fast` must not block (no
  // SQL, no Redis, no other service); it returns nullopt when it cannot answer
  // from memory, and then `slow` runs on a worker as Unary would. A warm read
  // thus costs no thread hand-off and is sent from the thread that received it.
  template <typename Fast, typename Slow>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, Fast fast,
                                  Slow slow) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    CallContext call;
    if (absl::Status auth = BeginUnary(ctx, &call); !auth.ok()) {
      Reply(reactor, call, status::ToGrpc(auth));
      return reactor;
    }
    std::optional<absl::Status> answered =
        fast(static_cast<const CallContext&>(call));
    if (answered.has_value()) {
      Reply(reactor, call, Finish(*answered));
      return reactor;
    }
    RunOnWorker(reactor, std::move(call), std::move(slow));
    return reactor;
  }

  // Starts measuring a unary call (the measurement the interceptor factory
  // handed over), takes its request id and deadline, and verifies its token.
  absl::Status BeginUnary(grpc::CallbackServerContext* ctx, CallContext* call);
  // Ends the call's measurement, then finishes it with `status`.
  static void Reply(grpc::ServerUnaryReactor* reactor, const CallContext& call,
                    const grpc::Status& status);

  // Maps a handler's result for the client, logging internal errors first.
  grpc::Status Finish(const absl::Status& s);
  static grpc::Status Overloaded();
  static absl::Time DeadlineOf(grpc::CallbackServerContext* ctx);

 private:
  // The part of a unary call that runs on a worker.
  template <typename Fn>
  struct WorkerCall {
    Runtime* runtime;
    grpc::ServerUnaryReactor* reactor;
    CallContext call;
    Fn fn;

    void operator()() {
      if (call.grpc->IsCancelled()) {
        Reply(reactor, call,
              grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
        return;
      }
      if (absl::Now() >= call.deadline) {
        Reply(reactor, call,
              grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                           "deadline passed before the call ran"));
        return;
      }
      absl::Status s = fn(static_cast<const CallContext&>(call));
      Reply(reactor, call, runtime->Finish(s));
    }
  };

  // Queues `fn` for a worker; a full queue answers RESOURCE_EXHAUSTED at once.
  template <typename Fn>
  void RunOnWorker(grpc::ServerUnaryReactor* reactor, CallContext call, Fn fn) {
    WorkerCall<Fn> task{this, reactor, std::move(call), std::move(fn)};
    if (!executor_->TryQueue(task)) Reply(reactor, task.call, Overloaded());
  }

  ServerConfig config_;
  telemetry::Telemetry telemetry_;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  std::unique_ptr<Executor> executor_;
  storage::TokenCodec codec_;
};

}  // namespace sightline::server
