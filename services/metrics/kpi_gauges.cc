#include "services/metrics/kpi_gauges.h"

#include <cmath>
#include <limits>

#include "absl/container/flat_hash_set.h"

namespace sightline::metrics {

KpiGauges::KpiGauges(prometheus::Registry* registry) {
  points_ = &prometheus::BuildCounter()
                 .Name("sightline_kpi_points_written_total")
                 .Help("Data points written (replacements included).")
                 .Register(*registry)
                 .Add({});
  stale_ = &prometheus::BuildGauge()
                .Name("sightline_kpi_stale")
                .Help(
                    "KPIs whose newest point is older than twice their "
                    "cadence, or whose source failed.")
                .Register(*registry)
                .Add({});
  value_ = &prometheus::BuildGauge()
                .Name("sightline_kpi_value")
                .Help(
                    "Value of an exported KPI over its current period "
                    "(NaN when it has none).")
                .Register(*registry);
  target_ = &prometheus::BuildGauge()
                 .Name("sightline_kpi_target")
                 .Help(
                     "Target of an exported KPI for its current period "
                     "(NaN when none).")
                 .Register(*registry);
  status_ = &prometheus::BuildGauge()
                 .Name("sightline_kpi_status")
                 .Help(
                     "Status of an exported KPI: 1 GREEN, 2 AMBER, 3 RED, "
                     "4 NO_DATA, 5 STALE, 6 NO_TARGET.")
                 .Register(*registry);
}

void KpiGauges::Refresh(MetricsService* service, KpiRepository* repo,
                        int64_t now) {
  auto all = repo->AllKpis();
  if (!all.ok()) return;
  int stale = 0;
  absl::flat_hash_set<std::string> seen;
  absl::MutexLock lock(&mu_);
  for (const auto& k : *all) {
    auto st = service->StatusOf(k, now);
    if (!st.ok()) continue;
    if (st->stale) ++stale;
    // Export is refused for other visibilities; a KPI made non-PUBLIC by
    // hand in the database still stays off the unauthenticated port.
    if (!k.exported || k.visibility != Visibility::kPublic) continue;
    seen.insert(k.id);
    auto it = exported_.find(k.id);
    if (it == exported_.end()) {
      std::map<std::string, std::string> labels{{"kpi", k.id}};
      it =
          exported_
              .emplace(k.id, Series{&value_->Add(labels), &target_->Add(labels),
                                    &status_->Add(labels)})
              .first;
    }
    double nan = std::numeric_limits<double>::quiet_NaN();
    it->second.value->Set(st->value.value_or(nan));
    it->second.target->Set(st->target ? st->target->value : nan);
    it->second.status->Set(static_cast<double>(st->state));
  }
  for (auto it = exported_.begin(); it != exported_.end();) {
    if (seen.contains(it->first)) {
      ++it;
      continue;
    }
    value_->Remove(it->second.value);
    target_->Remove(it->second.target);
    status_->Remove(it->second.status);
    exported_.erase(it++);
  }
  stale_->Set(stale);
}

}  // namespace sightline::metrics
