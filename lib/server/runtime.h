#pragma once

// What every handler of a service shares: token verification, the worker pool,
// telemetry and the token codec; and the helpers that run one RPC the same way
// everywhere (authenticate, hand to a worker, map the status once).

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "lib/auth/jwt.h"
#include "lib/auth/principal.h"
#include "lib/server/config.h"
#include "lib/server/executor.h"
#include "lib/server/limits.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "lib/telemetry/log.h"
#include "lib/telemetry/telemetry.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"

namespace sightline::server {

// One call as the domain sees it.
struct CallContext {
  grpc::CallbackServerContext* grpc = nullptr;
  auth::Principal principal;
  absl::Time deadline = absl::InfiniteFuture();
  // The call's metrics and log line (with its request id), ended when the
  // runtime finishes it.
  mutable telemetry::ServerCall measure;
  // The caller's concurrent call slot, given back when the call is answered.
  mutable CallerLimiter::Permit permit;

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

  // Verifies the bearer token of a streaming call, records the principal
  // for its log line, takes a token from the caller's bucket for the
  // method's class and one of the caller's open stream slots, until the
  // stream ends (RESOURCE_EXHAUSTED with RetryInfo past either).
  absl::StatusOr<auth::Principal> Authenticate(
      grpc::CallbackServerContext* ctx);

  const CallerLimiter& limiter() const { return *limiter_; }
  // Creates the refusal series of a service ("pkg.Service") up front.
  void InitializeLimitSeries(absl::string_view service);

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
  // handed over), takes its request id and deadline, verifies its token and
  // applies the caller's limits.
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

  // Applies the caller's limits to a call of `method` (null: not measured);
  // the call keeps the slot it takes in `permit`.
  absl::Status Limit(const telemetry::MethodMetrics* method,
                     const auth::Principal& principal, CallerLimiter::Slot slot,
                     CallerLimiter::Permit* permit);
  // The refusal counters of a service, by class and reason.
  using RefusalSeries =
      std::array<prometheus::Counter*, kMethodClasses * kLimitReasons>;
  RefusalSeries& RefusalsOf(absl::string_view service)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(refusals_mu_);

  ServerConfig config_;
  telemetry::Telemetry telemetry_;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  // Before the executor: calls it drops at its end give their slots back.
  std::unique_ptr<CallerLimiter> limiter_;
  prometheus::Family<prometheus::Counter>& refused_;
  absl::Mutex refusals_mu_;
  absl::flat_hash_map<std::string, RefusalSeries> refusals_
      ABSL_GUARDED_BY(refusals_mu_);
  std::unique_ptr<Executor> executor_;
  storage::TokenCodec codec_;
};

}  // namespace sightline::server
