#include "lib/server/health.h"

namespace sightline::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: sends the current status, then each change; only the
// latest status waits while a write is in flight.
class HealthService::Watcher
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* owner, std::string service)
      : owner_(owner), service_(std::move(service)) {}

  void Notify(Status status) {
    absl::MutexLock lock(&mu_);
    pending_ = status;
    PumpLocked();
  }

  void Close() {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    PumpLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by client"));
  }

  void OnDone() override {
    owner_->Remove(this);
    delete this;
  }

 private:
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    if (pending_.has_value() && (!sent_.has_value() || *sent_ != *pending_)) {
      sent_ = pending_;
      pending_.reset();
      msg_.set_status(*sent_);
      writing_ = true;
      StartWrite(&msg_);
      return;
    }
    pending_.reset();
    if (closing_) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    }
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  HealthService* owner_;
  std::string service_;
  absl::Mutex mu_;
  std::optional<Status> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<Status> sent_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  HealthCheckResponse msg_;

 public:
  const std::string& service() const { return service_; }
};

HealthService::Status HealthService::Lookup(const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

void HealthService::SetStatus(const std::string& service, Status status) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) status = HealthCheckResponse::NOT_SERVING;
  statuses_[service] = status;
  for (Watcher* w : watchers_) {
    if (w->service() == service) w->Notify(status);
  }
}

void HealthService::SetAll(Status status) {
  absl::MutexLock lock(&mu_);
  for (auto& [service, s] : statuses_) s = status;
  for (Watcher* w : watchers_) w->Notify(Lookup(w->service()));
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  for (auto& [service, s] : statuses_) s = HealthCheckResponse::NOT_SERVING;
  // Under the lock, so no watcher can finish and delete itself meanwhile: its
  // OnDone takes this lock in Remove() first.
  for (Watcher* w : watchers_) {
    w->Notify(Lookup(w->service()));
    w->Close();
  }
}

void HealthService::Remove(Watcher* w) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(w);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const HealthCheckRequest* req,
                                               HealthCheckResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(req->service());
  if (it == statuses_.end()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    resp->set_status(it->second);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* /*ctx*/, const HealthCheckRequest* req) {
  auto* w = new Watcher(this, req->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(w);
  w->Notify(Lookup(req->service()));
  if (shutdown_) w->Close();
  return w;
}

}  // namespace sightline::server
