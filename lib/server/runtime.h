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
  std::string request_id;
  absl::Time deadline = absl::InfiniteFuture();
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

  // Verifies the call's bearer token and records the principal for the log.
  absl::StatusOr<auth::Principal> Authenticate(
      grpc::CallbackServerContext* ctx);
  std::string RequestId(grpc::CallbackServerContext* ctx);
  // Keeps the caller out of this call's log line (anonymous authors).
  void RedactPrincipal(grpc::CallbackServerContext* ctx);

  // Runs `fn(const CallContext&) -> absl::Status` for a unary call on a worker,
  // after authentication, and finishes the call with the mapped status.
  template <typename Fn>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, Fn fn) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    auto principal = Authenticate(ctx);
    if (!principal.ok()) {
      reactor->Finish(status::ToGrpc(principal.status()));
      return reactor;
    }
    CallContext call{ctx, std::move(*principal), RequestId(ctx),
                     DeadlineOf(ctx)};
    bool queued = executor_->TrySubmit([this, reactor, call = std::move(call),
                                        fn = std::move(fn)]() mutable {
      if (call.grpc->IsCancelled()) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
        return;
      }
      if (absl::Now() >= call.deadline) {
        reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                     "deadline passed before the call ran"));
        return;
      }
      absl::Status s = fn(static_cast<const CallContext&>(call));
      reactor->Finish(Finish(s));
    });
    if (!queued) reactor->Finish(Overloaded());
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
    auto principal = Authenticate(ctx);
    if (!principal.ok()) {
      reactor->Finish(status::ToGrpc(principal.status()));
      return reactor;
    }
    CallContext call{ctx, std::move(*principal), std::string(),
                     DeadlineOf(ctx)};
    std::optional<absl::Status> answered =
        fast(static_cast<const CallContext&>(call));
    if (answered.has_value()) {
      reactor->Finish(Finish(*answered));
      return reactor;
    }
    call.request_id = RequestId(ctx);
    bool queued = executor_->TrySubmit([this, reactor, call = std::move(call),
                                        slow = std::move(slow)]() mutable {
      if (call.grpc->IsCancelled()) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
        return;
      }
      absl::Status s = slow(static_cast<const CallContext&>(call));
      reactor->Finish(Finish(s));
    });
    if (!queued) reactor->Finish(Overloaded());
    return reactor;
  }

  // Maps a handler's result for the client, logging internal errors first.
  grpc::Status Finish(const absl::Status& s);
  static grpc::Status Overloaded();
  static absl::Time DeadlineOf(grpc::CallbackServerContext* ctx);

 private:
  ServerConfig config_;
  telemetry::Telemetry telemetry_;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  std::unique_ptr<Executor> executor_;
  storage::TokenCodec codec_;
};

}  // namespace sightline::server
