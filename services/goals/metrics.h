#pragma once

// sightline_goals_* metrics. Labels stay low-cardinality: a cycle at most,
// never a person or a goal.

#include <map>
#include <string>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/goals/goals_service.h"

namespace sightline::goals {

class GoalsMetrics {
 public:
  explicit GoalsMetrics(prometheus::Registry* registry);
  // Replaces the gauges with a fresh census (series that vanished go to 0).
  void Publish(const GoalsService::CensusResult& census);
  void CheckInCreated(const std::string& cycle_id);

 private:
  prometheus::Family<prometheus::Gauge>& goals_;
  prometheus::Family<prometheus::Gauge>& due_;
  prometheus::Family<prometheus::Counter>& check_ins_;
  absl::Mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           prometheus::Gauge*>
      goal_series_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Gauge*> due_series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sightline::goals
