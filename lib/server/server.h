#pragma once

// The gRPC server of a service: listening address and TLS, limits, health
// (grpc.health.v1 Check and Watch), reflection, interceptors for metrics and
// logs, /metrics, and graceful shutdown on SIGTERM/SIGINT: health goes
// NOT_SERVING, shutdown hooks end long-lived streams, in-flight calls finish
// up to --shutdown_grace, then the server stops.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/server.h"
#include "lib/server/health.h"
#include "lib/server/runtime.h"

namespace sightline::server {

class Server {
 public:
  explicit Server(Runtime* runtime);
  ~Server();

  // `full_name` is the proto service name
  // ("sightline.people.v1.PeopleService"): its health status is reported and
  // its metric series created up front. Each of its unary methods must run
  // through Runtime::Unary, which measures it: they get no interceptor.
  void AddService(grpc::Service* service, absl::string_view full_name);
  // Runs after health goes NOT_SERVING and before the server stops accepting
  // calls (e.g. to end Watch streams with UNAVAILABLE so clients resume
  // elsewhere).
  void AddShutdownHook(std::function<void()> hook);

  // Before Start: health reports each added service NOT_SERVING (readiness)
  // until MarkServing; the server as a whole ("", liveness) SERVING.
  void HoldNotServing() { hold_not_serving_ = true; }
  // Reports SERVING; false (and nothing changes) once shutdown has begun.
  bool MarkServing();

  absl::Status Start();
  int port() const { return port_; }
  int metrics_port() const;

  // Blocks until SIGTERM/SIGINT or RequestShutdown(), then shuts down
  // gracefully. Returns the process exit code.
  int Run();
  void RequestShutdown() { shutdown_requested_.Notify(); }
  void Shutdown();

 private:
  Runtime* runtime_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::vector<std::function<void()>> shutdown_hooks_;
  HealthService health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool stopped_ = false;
  bool hold_not_serving_ = false;
  // Orders MarkServing against the start of Shutdown.
  absl::Mutex serving_mu_;
  bool draining_ ABSL_GUARDED_BY(serving_mu_) = false;
  absl::Notification shutdown_requested_;
};

// Logs a fatal start-up error as JSON and returns the exit code for main.
int ExitWithError(absl::string_view what, const absl::Status& status);

}  // namespace sightline::server
