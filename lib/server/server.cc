#include "lib/server/server.h"

#include <signal.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "lib/auth/tls.h"
#include "lib/telemetry/log.h"

namespace sightline::server {
namespace {

int Millis(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

telemetry::RpcType TypeOf(const google::protobuf::MethodDescriptor* m) {
  if (m->client_streaming() && m->server_streaming())
    return telemetry::RpcType::kBidiStream;
  if (m->client_streaming()) return telemetry::RpcType::kClientStream;
  if (m->server_streaming()) return telemetry::RpcType::kServerStream;
  return telemetry::RpcType::kUnary;
}

}  // namespace

int ExitWithError(absl::string_view what, const absl::Status& status) {
  telemetry::LogError(what, {{"error", status.message()}});
  telemetry::FlushLogs();
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

Server::Server(Runtime* runtime) : runtime_(runtime) {}

Server::~Server() { Shutdown(); }

void Server::AddService(grpc::Service* service, absl::string_view full_name) {
  services_.push_back({service, std::string(full_name)});
}

void Server::AddShutdownHook(std::function<void()> hook) {
  shutdown_hooks_.push_back(std::move(hook));
}

int Server::metrics_port() const {
  return runtime_->telemetry().metrics_port();
}

absl::Status Server::Start() {
  const ServerConfig& c = runtime_->config();
  auto creds = auth::MakeServerCredentials(c.tls);
  if (!creds.ok()) return creds.status();

  // Our own grpc.health.v1, which ends its Watch streams on shutdown.
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.grpc_address, *creds, &port_);
  builder.SetMaxReceiveMessageSize(c.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(c.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             c.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Millis(c.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Millis(c.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      Millis(c.keepalive_min_client_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  if (c.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               Millis(c.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               Millis(c.shutdown_grace));
  }
  if (c.max_connection_idle > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               Millis(c.max_connection_idle));
  }

  auto& metrics = runtime_->telemetry().server_metrics();
  // Every unary method of our own services runs through Runtime::Unary, which
  // measures it; the rest (streams, health, reflection) get an interceptor.
  telemetry::HandedOverMethods handed_over;
  builder.RegisterService(&health_);
  for (auto& [service, name] : services_) {
    builder.RegisterService(service);
    const auto* desc =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name);
    if (desc == nullptr)
      return absl::InternalError(absl::StrCat("unknown service ", name));
    runtime_->InitializeLimitSeries(name);
    for (int i = 0; i < desc->method_count(); ++i) {
      const auto* m = desc->method(i);
      std::string full = absl::StrCat("/", name, "/", m->name());
      telemetry::MethodMetrics* series = metrics.Get(full, TypeOf(m));
      if (TypeOf(m) == telemetry::RpcType::kUnary)
        handed_over.emplace(std::move(full), series);
    }
  }
  metrics.Initialize("/grpc.health.v1.Health/Check",
                     telemetry::RpcType::kUnary);
  metrics.Initialize("/grpc.health.v1.Health/Watch",
                     telemetry::RpcType::kServerStream);
  metrics.Initialize(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      telemetry::RpcType::kBidiStream);

  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      f;
  f.push_back(std::make_unique<telemetry::ServerInterceptorFactory>(
      &metrics, &runtime_->telemetry().calls(), c.log_calls,
      std::move(handed_over)));
  builder.experimental().SetInterceptorCreators(std::move(f));

  if (!c.metrics_address.empty()) {
    auto st = runtime_->telemetry().StartExposer(c.metrics_address);
    if (!st.ok()) return st;
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("--grpc_address: cannot listen on ", c.grpc_address));
  }
  // The server as a whole ("", what liveness asks) serves from the start;
  // each service (what readiness asks) once warm.
  health_.SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  const auto status = hold_not_serving_
                          ? grpc::health::v1::HealthCheckResponse::NOT_SERVING
                          : grpc::health::v1::HealthCheckResponse::SERVING;
  for (auto& [service, name] : services_) health_.SetStatus(name, status);
  telemetry::LogInfo("serving", {{"grpc_port", port_},
                                 {"metrics_port", metrics_port()},
                                 {"tls", !c.tls.cert_file.empty()},
                                 {"mtls", !c.tls.client_ca_file.empty()},
                                 {"workers", c.worker_threads}});
  return absl::OkStatus();
}

bool Server::MarkServing() {
  absl::MutexLock lock(&serving_mu_);
  if (draining_) return false;
  for (auto& [service, name] : services_) {
    health_.SetStatus(name, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  return true;
}

int Server::Run() {
  // Signals are blocked in every thread (LoadConfig); one thread takes them.
  std::thread([this] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    if (sigwait(&set, &sig) == 0) {
      telemetry::LogInfo("signal received",
                         {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      RequestShutdown();
    }
  }).detach();
  shutdown_requested_.WaitForNotification();
  Shutdown();
  return 0;
}

void Server::Shutdown() {
  if (stopped_ || server_ == nullptr) return;
  stopped_ = true;
  const ServerConfig& c = runtime_->config();
  {
    absl::MutexLock lock(&serving_mu_);
    draining_ = true;
    health_.SetAll(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  }
  telemetry::LogInfo(
      "shutting down",
      {{"drain_ms", absl::ToInt64Milliseconds(c.shutdown_drain)},
       {"grace_ms", absl::ToInt64Milliseconds(c.shutdown_grace)}});
  if (c.shutdown_drain > absl::ZeroDuration()) absl::SleepFor(c.shutdown_drain);
  for (auto& hook : shutdown_hooks_) hook();
  health_.Shutdown();
  // Refuses new calls, lets running ones finish until the deadline, then
  // cancels what is left. Workers keep running meanwhile.
  server_->Shutdown(absl::ToChronoTime(absl::Now() + c.shutdown_grace));
  runtime_->executor().Shutdown();
  runtime_->telemetry().StopExposer();
  telemetry::LogInfo("stopped");
  telemetry::FlushLogs();
}

}  // namespace sightline::server
