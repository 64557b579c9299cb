#pragma once

// grpc.health.v1 (Check and Watch), ours rather than gRPC's built-in one: on
// shutdown every watcher is told NOT_SERVING and then its stream is ended, so
// an open Watch (client-side health checking, load balancers) never holds the
// server for its whole shutdown grace.

#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace sightline::server {

class HealthService : public grpc::health::v1::Health::CallbackService {
 public:
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // "" is the server as a whole.
  void SetStatus(const std::string& service, Status status);
  void SetAll(Status status);
  // Ends every Watch stream (after it has sent the latest status); later
  // Watch calls are refused with UNAVAILABLE.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* req,
      grpc::health::v1::HealthCheckResponse* resp) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* req) override;

  class Watcher;

 private:
  friend class Watcher;
  Status Lookup(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Watcher* w);

  mutable absl::Mutex mu_;
  std::map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sightline::server
