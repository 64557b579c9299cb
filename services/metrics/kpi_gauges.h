#pragma once

// The metrics service's own series on /metrics: points written, stale KPIs,
// and the KPIs flagged for export as sightline_kpi_value/target/status{kpi}
// (labelled by KPI id only, never by a person; bounded by
// --max_exported_kpis).

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/metrics/metrics_service.h"

namespace sightline::metrics {

class KpiGauges {
 public:
  explicit KpiGauges(prometheus::Registry* registry);

  void PointsWritten(int64_t n) { points_->Increment(static_cast<double>(n)); }
  // Recomputes the exported series and the stale count from every KPI.
  void Refresh(MetricsService* service, KpiRepository* repo, int64_t now);

 private:
  prometheus::Counter* points_;
  prometheus::Gauge* stale_;
  prometheus::Family<prometheus::Gauge>* value_;
  prometheus::Family<prometheus::Gauge>* target_;
  prometheus::Family<prometheus::Gauge>* status_;
  absl::Mutex mu_;
  struct Series {
    prometheus::Gauge* value;
    prometheus::Gauge* target;
    prometheus::Gauge* status;
  };
  absl::flat_hash_map<std::string, Series> exported_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sightline::metrics
