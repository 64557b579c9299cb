#include "services/metrics/prometheus_source.h"

#include "absl/strings/str_cat.h"
#include "lib/telemetry/log.h"

namespace sightline::metrics {

PrometheusSource::PrometheusSource(MetricsService* service, KpiRepository* repo,
                                   PrometheusClient* client)
    : service_(service), repo_(repo), client_(client) {}

int64_t PrometheusSource::AlignedTime(const Kpi& kpi, int64_t now) {
  return now / kpi.cadence * kpi.cadence;
}

void PrometheusSource::Tick(int64_t now) {
  auto all = repo_->AllKpis();
  if (!all.ok()) return;
  for (const auto& kpi : *all) {
    if (kpi.prom_query.empty()) continue;
    int64_t at = AlignedTime(kpi, now);
    auto it = last_.find(kpi.id);
    if (it != last_.end() && it->second >= at) continue;
    auto sample = client_->QueryInstant(kpi.prom_query, now);
    if (!sample.ok()) {
      // Kept for GetKpiStatus; never a zero written in its place.
      std::string error =
          absl::StrCat(absl::StatusCodeToString(sample.status().code()), ": ",
                       sample.status().message());
      (void)repo_->SetSourceError(kpi.id, error, now);
      service_->Invalidate();
      telemetry::LogWarn("prometheus query failed",
                         {{"kpi", kpi.id}, {"error", error}});
      continue;  // tried again at the next tick
    }
    Point p{kpi.id, at, sample->value, "", "prometheus"};
    Caller system{"", false, /*service=*/true};
    auto written = service_->WritePoints(system, {p}, {}, now);
    if (!written.ok()) {
      (void)repo_->SetSourceError(
          kpi.id,
          absl::StrCat("writing the point: ", written.status().message()), now);
      continue;
    }
    auto prior = repo_->SourceError(kpi.id);
    if (prior.ok() && !prior->first.empty()) {
      (void)repo_->SetSourceError(kpi.id, "", now);
      service_->Invalidate();
    }
    last_[kpi.id] = at;
  }
}

}  // namespace sightline::metrics
