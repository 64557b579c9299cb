#include "lib/server/runtime.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/support/time.h"
#include "lib/auth/jwt.h"

namespace sightline::server {

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Create(
    const ServerConfig& config) {
  auth::VerifierConfig vc;
  auto alg = auth::ParseAlgorithm(config.jwt_algorithm);
  if (!alg.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--jwt_algorithm: ", alg.status().message()));
  vc.algorithm = *alg;
  auto key = auth::ReadKeyFile(config.jwt_key_file);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jwt_key_file: ", key.status().message()));
  }
  vc.key = *key;
  vc.issuer = config.jwt_issuer;
  vc.audience = config.jwt_audience;
  auto verifier = auth::TokenVerifier::Create(vc);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jwt_key_file: ", verifier.status().message()));
  }
  storage::TokenCodec codec = storage::TokenCodec::WithRandomKey();
  if (!config.token_key_file.empty()) {
    auto tk = auth::ReadKeyFile(config.token_key_file);
    if (!tk.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_key_file: ", tk.status().message()));
    }
    codec = storage::TokenCodec(*tk);
  }
  return std::make_unique<Runtime>(config, std::move(*verifier),
                                   std::move(codec));
}

Runtime::Runtime(ServerConfig config,
                 std::unique_ptr<auth::TokenVerifier> verifier,
                 storage::TokenCodec codec)
    : config_(std::move(config)),
      telemetry_(config_.service, "0.1.0"),
      verifier_(std::move(verifier)),
      executor_(std::make_unique<Executor>(config_.worker_threads,
                                           config_.max_queued_calls)),
      codec_(std::move(codec)) {
  telemetry::SetLogService(config_.service);
  telemetry::Level level;
  if (telemetry::ParseLogLevel(config_.log_level, &level))
    telemetry::SetLogLevel(level);
}

Runtime::~Runtime() { executor_->Shutdown(); }

namespace {

absl::StatusOr<auth::Principal> Verify(const auth::TokenVerifier& verifier,
                                       grpc::CallbackServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "missing bearer token (authorization metadata)");
  }
  return verifier.VerifyAuthorization(
      absl::string_view(it->second.data(), it->second.size()), absl::Now());
}

}  // namespace

absl::StatusOr<auth::Principal> Runtime::Authenticate(
    grpc::CallbackServerContext* ctx) {
  auto principal = Verify(*verifier_, ctx);
  if (principal.ok()) {
    telemetry_.calls().Update(ctx, [&](telemetry::CallRecord& r) {
      r.principal = principal->subject;
    });
  }
  return principal;
}

absl::Status Runtime::BeginUnary(grpc::CallbackServerContext* ctx,
                                 CallContext* call) {
  call->grpc = ctx;
  call->deadline = DeadlineOf(ctx);
  call->measure = telemetry::TakeServerCall(ctx);
  if (call->measure.Begin(ctx->client_metadata()))
    ctx->AddInitialMetadata("x-request-id", call->measure.record().request_id);
  call->measure.MessageReceived();
  auto principal = Verify(*verifier_, ctx);
  if (!principal.ok()) return principal.status();
  call->principal = std::move(*principal);
  call->measure.record().principal = call->principal.subject;
  return absl::OkStatus();
}

void Runtime::Reply(grpc::ServerUnaryReactor* reactor, const CallContext& call,
                    const grpc::Status& status) {
  // A unary call sends its one message only with an OK status.
  if (status.ok()) call.measure.MessageSent();
  call.measure.End(status);
  reactor->Finish(status);
}

grpc::Status Runtime::Finish(const absl::Status& s) {
  if (s.code() == absl::StatusCode::kInternal ||
      s.code() == absl::StatusCode::kUnknown ||
      s.code() == absl::StatusCode::kDataLoss) {
    telemetry::LogError("internal error", {{"error", s.message()}});
  }
  return status::ToGrpc(s);
}

grpc::Status Runtime::Overloaded() {
  return grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      "server overloaded: too many queued calls; retry with backoff");
}

absl::Time Runtime::DeadlineOf(grpc::CallbackServerContext* ctx) {
  auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max())
    return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

}  // namespace sightline::server
