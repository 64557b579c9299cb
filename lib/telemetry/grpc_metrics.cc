#include "lib/telemetry/grpc_metrics.h"

#include <chrono>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "lib/status/status.h"
#include "lib/telemetry/log.h"

namespace sightline::telemetry {
namespace {

using grpc::experimental::InterceptionHookPoints;

const prometheus::Histogram::BucketBoundaries& HandlingBuckets() {
  // Prometheus' default buckets, as go-grpc-prometheus uses.
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *b;
}

void SplitMethod(absl::string_view full, std::string* service,
                 std::string* method) {
  if (!full.empty() && full[0] == '/') full.remove_prefix(1);
  size_t slash = full.find('/');
  if (slash == absl::string_view::npos) {
    *service = "unknown";
    *method = std::string(full);
    return;
  }
  *service = std::string(full.substr(0, slash));
  *method = std::string(full.substr(slash + 1));
}

template <typename T>
RpcType TypeOf(T t) {
  switch (t) {
    case T::UNARY:
      return RpcType::kUnary;
    case T::CLIENT_STREAMING:
      return RpcType::kClientStream;
    case T::SERVER_STREAMING:
      return RpcType::kServerStream;
    case T::BIDI_STREAMING:
      return RpcType::kBidiStream;
    default:
      return RpcType::kUnary;
  }
}

bool IsPublicMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.") ||
         absl::StartsWith(method, "/grpc.reflection.");
}

class ServerInterceptor : public grpc::experimental::Interceptor {
 public:
  ServerInterceptor(grpc::experimental::ServerRpcInfo* info, MethodMetrics* m,
                    CallRegistry* registry, bool log_calls)
      : info_(info),
        registry_(registry),
        call_(m, log_calls && !IsPublicMethod(info->method())) {}

  ~ServerInterceptor() override {
    if (registered_) registry_->Unregister(info_->server_context());
    RunOnEnd();
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      static const std::multimap<grpc::string_ref, grpc::string_ref> kNone;
      auto* md = methods->GetRecvInitialMetadata();
      echo_request_id_ = call_.Begin(md != nullptr ? *md : kNone);
      // The request id is set before the record is published, and never
      // changes after: this interceptor reads it without the lock.
      registry_->Register(info_->server_context(), &call_.record());
      registered_ = true;
    }
    if (echo_request_id_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("x-request-id",
                                                 call_.record().request_id);
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      call_.MessageReceived();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      call_.MessageSent();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status st = methods->GetSendStatus();
      // A client that gives up before its request arrives leaves gRPC with no
      // handler to run, and it reports UNIMPLEMENTED; that call was cancelled.
      if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
          info_->server_context()->IsCancelled()) {
        st = grpc::Status(grpc::StatusCode::CANCELLED,
                          "cancelled by the client");
      }
      // Once unregistered, the handler can no longer change the record.
      if (registered_) {
        registry_->Unregister(info_->server_context());
        registered_ = false;
      }
      RunOnEnd();
      call_.End(st);
    }
    methods->Proceed();
  }

 private:
  // Only once unregistered: the handler no longer reaches the record.
  void RunOnEnd() {
    if (auto on_end = std::exchange(call_.record().on_end, nullptr)) on_end();
  }

  grpc::experimental::ServerRpcInfo* info_;
  CallRegistry* registry_;
  bool registered_ = false;
  bool echo_request_id_ = false;
  ServerCall call_;
};

// A unary call the factory handed over, waiting on the thread that is about
// to run its handler.
struct HandedOver {
  const grpc::ServerContextBase* ctx = nullptr;
  MethodMetrics* metrics = nullptr;
  bool log = false;
};
thread_local HandedOver t_handed_over;

class ClientInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ClientInterceptor(MethodMetrics* m)
      : metrics_(m), start_(std::chrono::steady_clock::now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      metrics_->started->Increment();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      metrics_->msg_sent->Increment();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      metrics_->msg_received->Increment();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      int code = static_cast<int>(methods->GetRecvStatus()->error_code());
      if (code < 0 || code > 16) code = 2;
      metrics_->handled[code]->Increment();
      metrics_->handling->Observe(std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() - start_)
                                      .count());
    }
    methods->Proceed();
  }

 private:
  MethodMetrics* metrics_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

ServerCall::ServerCall(MethodMetrics* metrics, bool log)
    : metrics_(metrics), log_(log), start_(std::chrono::steady_clock::now()) {
  record_.method = metrics;
}

ServerCall::ServerCall(ServerCall&& other) noexcept
    : metrics_(std::exchange(other.metrics_, nullptr)),
      log_(other.log_),
      start_(other.start_),
      record_(std::move(other.record_)) {}

ServerCall& ServerCall::operator=(ServerCall&& other) noexcept {
  metrics_ = std::exchange(other.metrics_, nullptr);
  log_ = other.log_;
  start_ = other.start_;
  record_ = std::move(other.record_);
  return *this;
}

bool ServerCall::Begin(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
  if (metrics_ != nullptr) metrics_->started->Increment();
  bool from_client = false;
  auto it = md.find("x-request-id");
  if (it != md.end()) {
    absl::string_view id(it->second.data(), it->second.size());
    if (IsValidRequestId(id)) {
      record_.request_id = std::string(id);
      from_client = true;
    }
  }
  if (record_.request_id.empty()) record_.request_id = NewRequestId();
  return from_client;
}

void ServerCall::MessageReceived() {
  if (metrics_ != nullptr) metrics_->msg_received->Increment();
}

void ServerCall::MessageSent() {
  if (metrics_ != nullptr) metrics_->msg_sent->Increment();
}

void ServerCall::End(const grpc::Status& status) {
  MethodMetrics* m = std::exchange(metrics_, nullptr);
  if (m == nullptr) return;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > 16) code = 2;
  m->handled[code]->Increment();
  m->handling->Observe(seconds);
  if (!log_) return;
  Level level = Level::kInfo;
  if (code == static_cast<int>(grpc::StatusCode::INTERNAL) ||
      code == static_cast<int>(grpc::StatusCode::UNKNOWN) ||
      code == static_cast<int>(grpc::StatusCode::DATA_LOSS)) {
    level = Level::kError;
  }
  LogRpc(level, m->full,
         status::GoCodeName(static_cast<grpc::StatusCode>(code)),
         static_cast<int64_t>(seconds * 1e6),
         record_.redact_principal ? absl::string_view("redacted")
                                  : absl::string_view(record_.principal),
         record_.request_id,
         code != 0 ? absl::string_view(status.error_message()) : "");
}

ServerCall TakeServerCall(const grpc::ServerContextBase* ctx) {
  HandedOver& h = t_handed_over;
  if (h.ctx != ctx || ctx == nullptr) return ServerCall();
  h.ctx = nullptr;
  return ServerCall(h.metrics, h.log);
}

absl::string_view RpcTypeName(RpcType t) {
  switch (t) {
    case RpcType::kUnary:
      return "unary";
    case RpcType::kClientStream:
      return "client_stream";
    case RpcType::kServerStream:
      return "server_stream";
    case RpcType::kBidiStream:
      return "bidi_stream";
  }
  return "unary";
}

void CallRegistry::Register(const grpc::ServerContextBase* ctx,
                            CallRecord* record) {
  Shard& s = shard(ctx);
  absl::MutexLock lock(&s.mu);
  s.calls[ctx] = record;
}

void CallRegistry::Unregister(const grpc::ServerContextBase* ctx) {
  Shard& s = shard(ctx);
  absl::MutexLock lock(&s.mu);
  s.calls.erase(ctx);
}

RpcMetrics::RpcMetrics(Side side, prometheus::Registry* registry)
    : started_(prometheus::BuildCounter()
                   .Name(side == Side::kServer ? "grpc_server_started_total"
                                               : "grpc_client_started_total")
                   .Help(side == Side::kServer
                             ? "Total number of RPCs started on the server."
                             : "Total number of RPCs started on the client.")
                   .Register(*registry)),
      handled_(prometheus::BuildCounter()
                   .Name(side == Side::kServer ? "grpc_server_handled_total"
                                               : "grpc_client_handled_total")
                   .Help(side == Side::kServer
                             ? "Total number of RPCs completed on the server, "
                               "regardless of success or failure."
                             : "Total number of RPCs completed by the client, "
                               "regardless of success or failure.")
                   .Register(*registry)),
      msg_received_(prometheus::BuildCounter()
                        .Name(side == Side::kServer
                                  ? "grpc_server_msg_received_total"
                                  : "grpc_client_msg_received_total")
                        .Help("Total number of RPC stream messages received.")
                        .Register(*registry)),
      msg_sent_(prometheus::BuildCounter()
                    .Name(side == Side::kServer ? "grpc_server_msg_sent_total"
                                                : "grpc_client_msg_sent_total")
                    .Help("Total number of gRPC stream messages sent.")
                    .Register(*registry)),
      handling_(
          prometheus::BuildHistogram()
              .Name(side == Side::kServer ? "grpc_server_handling_seconds"
                                          : "grpc_client_handling_seconds")
              .Help(side == Side::kServer
                        ? "Histogram of response latency (seconds) of gRPC "
                          "that had been application-level handled by the "
                          "server."
                        : "Histogram of response latency (seconds) of the "
                          "gRPC until it is finished by the application.")
              .Register(*registry)) {}

void RpcMetrics::Initialize(absl::string_view full_method, RpcType type) {
  Get(full_method, type);
}

MethodMetrics* RpcMetrics::Get(absl::string_view full_method, RpcType type) {
  absl::MutexLock lock(&mu_);
  auto it = methods_.find(full_method);
  if (it != methods_.end()) return it->second.get();
  return Create(full_method, type);
}

MethodMetrics* RpcMetrics::Create(absl::string_view full_method, RpcType type) {
  auto m = std::make_unique<MethodMetrics>();
  m->full = std::string(full_method);
  m->type = std::string(RpcTypeName(type));
  SplitMethod(full_method, &m->service, &m->method);
  std::map<std::string, std::string> labels = {{"grpc_type", m->type},
                                               {"grpc_service", m->service},
                                               {"grpc_method", m->method}};
  m->started = &started_.Add(labels);
  m->msg_received = &msg_received_.Add(labels);
  m->msg_sent = &msg_sent_.Add(labels);
  m->handling = &handling_.Add(labels, HandlingBuckets());
  for (int code = 0; code <= 16; ++code) {
    auto with_code = labels;
    with_code["grpc_code"] =
        std::string(status::GoCodeName(static_cast<grpc::StatusCode>(code)));
    m->handled[code] = &handled_.Add(with_code);
  }
  MethodMetrics* raw = m.get();
  methods_.emplace(std::string(full_method), std::move(m));
  return raw;
}

grpc::experimental::Interceptor*
ServerInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  if (info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY) {
    auto it = handed_over_.find(absl::string_view(info->method()));
    if (it != handed_over_.end()) {
      t_handed_over = {info->server_context(), it->second, log_calls_};
      return nullptr;
    }
  }
  MethodMetrics* m = metrics_->Get(info->method(), TypeOf(info->type()));
  return new ServerInterceptor(info, m, registry_, log_calls_);
}

grpc::experimental::Interceptor*
ClientInterceptorFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo* info) {
  if (info->method() == nullptr) return nullptr;
  MethodMetrics* m = metrics_->Get(info->method(), TypeOf(info->type()));
  return new ClientInterceptor(m);
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    id[static_cast<size_t>(i)] = kHex[v & 15];
  return id;
}

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace sightline::telemetry
