#pragma once

// Points of Prometheus-sourced KPIs: each KPI's query is evaluated once per
// cadence, and its sample stored at the start of that cadence slot (so that
// replicas evaluating the same KPI write the same point, which replaces
// itself instead of counting twice). A query that fails or returns no sample
// writes nothing: the error is kept and the KPI shows STALE with it.

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "services/metrics/metrics_service.h"
#include "services/metrics/prometheus_client.h"

namespace sightline::metrics {

class PrometheusSource {
 public:
  PrometheusSource(MetricsService* service, KpiRepository* repo,
                   PrometheusClient* client);

  // Evaluates every KPI whose aligned evaluation time at `now` is newer than
  // the last one made. Blocking (HTTP): run it on a background thread.
  void Tick(int64_t now);

  // The time a sample taken at `now` is stored at.
  static int64_t AlignedTime(const Kpi& kpi, int64_t now);

 private:
  MetricsService* service_;
  KpiRepository* repo_;
  PrometheusClient* client_;
  absl::flat_hash_map<std::string, int64_t> last_;  // kpi -> aligned time
};

}  // namespace sightline::metrics
