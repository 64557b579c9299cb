#include "services/goals/metrics.h"

#include "services/goals/rules.h"

namespace sightline::goals {

GoalsMetrics::GoalsMetrics(prometheus::Registry* registry)
    : goals_(
          prometheus::BuildGauge()
              .Name("sightline_goals")
              .Help("Goals by cycle, level, state and health (health only for "
                    "ACTIVE goals).")
              .Register(*registry)),
      due_(prometheus::BuildGauge()
               .Name("sightline_goals_due_check_ins")
               .Help("ACTIVE goals whose last check-in is older than the "
                     "cadence, by cycle.")
               .Register(*registry)),
      check_ins_(prometheus::BuildCounter()
                     .Name("sightline_goals_check_ins_total")
                     .Help("Check-ins recorded, by cycle.")
                     .Register(*registry)) {}

void GoalsMetrics::Publish(const GoalsService::CensusResult& census) {
  absl::MutexLock lock(&mu_);
  for (auto& [key, gauge] : goal_series_) gauge->Set(0);
  for (auto& [key, gauge] : due_series_) gauge->Set(0);
  for (const auto& c : census.counts) {
    std::string state(ApiName(c.state));
    std::string health = c.health == Health::kUnspecified
                             ? "NONE"
                             : std::string(ApiName(c.health));
    std::string level(ApiName(c.level));
    auto key = std::make_tuple(c.cycle_id, level, state, health);
    auto it = goal_series_.find(key);
    if (it == goal_series_.end()) {
      it = goal_series_
               .emplace(key, &goals_.Add({{"cycle", c.cycle_id},
                                          {"level", level},
                                          {"state", state},
                                          {"health", health}}))
               .first;
    }
    it->second->Set(c.count);
  }
  for (const auto& [cycle, n] : census.due_by_cycle) {
    auto it = due_series_.find(cycle);
    if (it == due_series_.end())
      it = due_series_.emplace(cycle, &due_.Add({{"cycle", cycle}})).first;
    it->second->Set(n);
  }
}

void GoalsMetrics::CheckInCreated(const std::string& cycle_id) {
  check_ins_.Add({{"cycle", cycle_id}}).Increment();
}

}  // namespace sightline::goals
