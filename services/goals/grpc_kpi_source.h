#pragma once

// KpiSource over the metrics service's gRPC API, with the goals service's
// own token (a service principal reads every KPI; whether a key result's
// owner may read one is decided in the goals service with lib/org's rules).

#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "lib/server/client.h"
#include "services/goals/kpi_source.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"

namespace sightline::goals {

class GrpcKpiSource : public KpiSource {
 public:
  GrpcKpiSource(std::shared_ptr<grpc::Channel> channel,
                server::ServiceToken* token,
                absl::Duration call_timeout = absl::Seconds(3));

  absl::StatusOr<KpiInfo> GetKpi(const std::string& id) override;
  absl::StatusOr<std::optional<double>> ValueOver(const std::string& id,
                                                  absl::Time start,
                                                  absl::Time end) override;
  absl::Status Watch(
      const std::string& resume_token,
      const std::function<absl::Status()>& on_open,
      const std::function<absl::Status(const KpiEvent&)>& on_event) override;
  void Cancel() override;

 private:
  std::unique_ptr<metrics::v1::MetricsService::Stub> stub_;
  server::ServiceToken* token_;
  absl::Duration call_timeout_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  grpc::ClientContext* stream_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace sightline::goals
