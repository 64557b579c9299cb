#include "lib/server/runtime.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/support/time.h"
#include "lib/auth/jwt.h"
#include "prometheus/counter.h"

namespace sightline::server {
namespace {

constexpr absl::Duration kConcurrencyRetryDelay = absl::Milliseconds(50);
constexpr absl::Duration kStreamRetryDelay = absl::Seconds(1);

// Where a class's and a reason's refusal counter sits in a RefusalSeries.
int SeriesIndex(MethodClass cls, LimitReason reason) {
  return static_cast<int>(cls) * kLimitReasons + static_cast<int>(reason);
}

}  // namespace

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
      limiter_(std::make_unique<CallerLimiter>(config_.caller_limits)),
      refused_(
          prometheus::BuildCounter()
              .Name("sightline_caller_limit_refused_total")
              .Help("Calls refused by a limit per caller, by service, "
                    "method class and reason (rate, concurrency, streams).")
              .Register(telemetry_.registry())),
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
  if (!principal.ok()) return principal;
  const telemetry::MethodMetrics* method = nullptr;
  telemetry_.calls().Update(ctx, [&](telemetry::CallRecord& r) {
    r.principal = principal->subject;
    method = r.method;
  });
  // A stream takes a token once, when opened, and holds an open stream slot
  // (not a running call's) until it ends.
  CallerLimiter::Permit permit;
  if (absl::Status s =
          Limit(method, *principal, CallerLimiter::Slot::kStream, &permit);
      !s.ok())
    return s;
  if (permit.holds()) {
    auto held = std::make_shared<CallerLimiter::Permit>(std::move(permit));
    // A call no interceptor measures has no end to hear of: its slot goes
    // back at once, with `held`.
    telemetry_.calls().Update(ctx, [&](telemetry::CallRecord& r) {
      r.on_end = [held] { held->Release(); };
    });
  }
  return principal;
}

void Runtime::InitializeLimitSeries(absl::string_view service) {
  absl::MutexLock lock(&refusals_mu_);
  RefusalsOf(service);
}

Runtime::RefusalSeries& Runtime::RefusalsOf(absl::string_view service) {
  auto it = refusals_.find(service);
  if (it != refusals_.end()) return it->second;
  RefusalSeries series;
  for (int c = 0; c < kMethodClasses; ++c) {
    for (int i = 0; i < kLimitReasons; ++i) {
      const auto r = static_cast<LimitReason>(i);
      series[SeriesIndex(static_cast<MethodClass>(c), r)] = &refused_.Add(
          {{"grpc_service", std::string(service)},
           {"method_class",
            std::string(MethodClassName(static_cast<MethodClass>(c)))},
           {"reason", std::string(LimitReasonName(r))}});
    }
  }
  return refusals_.emplace(std::string(service), series).first->second;
}

absl::Status Runtime::Limit(const telemetry::MethodMetrics* method,
                            const auth::Principal& principal,
                            CallerLimiter::Slot slot,
                            CallerLimiter::Permit* permit) {
  const CallerLimitsConfig& limits = limiter_->config();
  if (!limits.enabled()) return absl::OkStatus();
  if (!limits.limit_services && principal.IsService()) return absl::OkStatus();
  const MethodClass cls =
      method != nullptr ? ClassOf(method->method) : MethodClass::kWrite;
  CallerLimiter::Decision d = limiter_->Admit(principal.subject, cls, slot);
  if (d.admitted) {
    *permit = std::move(d.permit);
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&refusals_mu_);
    const absl::string_view service = method != nullptr
                                          ? absl::string_view(method->service)
                                          : absl::string_view("unknown");
    RefusalsOf(service)[SeriesIndex(cls, d.reason)]->Increment();
  }
  const absl::string_view cls_name = MethodClassName(cls);
  if (d.reason == LimitReason::kRate) {
    return status::WithRetryInfo(
        status::WithErrorInfo(
            absl::ResourceExhaustedError(absl::StrCat(
                "caller rate limit: at most ", d.limit, " ", cls_name,
                " calls per second (--caller_", cls_name, "_rate); retry in ",
                absl::FormatDuration(
                    absl::Ceil(d.retry_after, absl::Milliseconds(1))))),
            "RATE_LIMITED",
            {{"method_class", std::string(cls_name)},
             {"limit", absl::StrCat(d.limit)}}),
        d.retry_after);
  }
  if (d.reason == LimitReason::kStreams) {
    // A stream ends when its caller closes it: the hint is a slow retry.
    return status::WithRetryInfo(
        status::WithErrorInfo(
            absl::ResourceExhaustedError(absl::StrCat(
                "caller stream limit: at most ", d.limit,
                " streams open at once (--caller_max_open_streams)")),
            "STREAM_LIMITED", {{"limit", absl::StrCat(d.limit)}}),
        kStreamRetryDelay);
  }
  // When a running call ends is not known: a short pause is the hint.
  return status::WithRetryInfo(
      status::WithErrorInfo(
          absl::ResourceExhaustedError(absl::StrCat(
              "caller concurrency limit: at most ", d.limit,
              " calls running at once (--caller_max_concurrent_calls)")),
          "CONCURRENCY_LIMITED", {{"limit", absl::StrCat(d.limit)}}),
      kConcurrencyRetryDelay);
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
  return Limit(call->measure.record().method, call->principal,
               CallerLimiter::Slot::kUnary, &call->permit);
}

void Runtime::Reply(grpc::ServerUnaryReactor* reactor, const CallContext& call,
                    const grpc::Status& status) {
  // The slot first: a caller may call again as soon as it has the answer.
  call.permit.Release();
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
