#pragma once

// Owns the Prometheus registry of a process and the /metrics endpoint on its
// own port, plus the gRPC metric families both sides of every call report into.

#include <sys/socket.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/telemetry/grpc_metrics.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace sightline::telemetry {

class Telemetry {
 public:
  Telemetry(std::string service, std::string version);
  ~Telemetry();

  // Serves /metrics on `address` ("127.0.0.1:9090"; port 0 picks one).
  absl::Status StartExposer(const std::string& address);
  // The port /metrics listens on, once started.
  int metrics_port() const;

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }
  RpcMetrics& server_metrics() { return server_metrics_; }
  RpcMetrics& client_metrics() { return client_metrics_; }
  CallRegistry& calls() { return calls_; }

  // The Prometheus text exposition of everything registered (for tests).
  std::string Scrape() const;

  void StopExposer();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  RpcMetrics server_metrics_;
  RpcMetrics client_metrics_;
  CallRegistry calls_;
  std::shared_ptr<prometheus::Collectable> combined_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // Where a client reaches the /metrics listener (see StopExposer).
  sockaddr_storage dial_addr_{};
  socklen_t dial_len_ = 0;
};

}  // namespace sightline::telemetry
