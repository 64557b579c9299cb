#pragma once

// Follows the metrics service's WatchKpis feed and moves the key results
// linked to a KPI when its points change (GoalsService::FollowKpi). The feed
// position is kept in the goals database, committed in the same transaction as
// the check-ins an event caused, so that a crash at any moment neither loses
// nor repeats an update: after a restart the feed resumes from the last
// committed position, and an event replayed whose check-in was already
// committed finds the key result at the KPI's value and writes nothing.
// Events that cause no check-in advance the stored position in batches.
//
// With no stored position (first start, or one the metrics service pruned)
// the feed starts from now; every linked key result is then brought up to
// date once, after the stream is open, so nothing committed before is missed.

#include <atomic>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "services/goals/goals_service.h"
#include "services/goals/kpi_source.h"

namespace sightline::goals {

struct KpiFollowerOptions {
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Events that cause no check-in: store the position after this many, or
  // when this long has passed since the last stored one.
  int flush_every = 256;
  absl::Duration flush_after = absl::Seconds(1);
};

class KpiFollower {
 public:
  KpiFollower(GoalsService* service, GoalRepository* repo, KpiSource* source,
              KpiFollowerOptions options = {});
  ~KpiFollower();

  void Start();
  void Stop();

  // One stream, from the stored position until it fails (public for tests).
  absl::Status FollowOnce();
  // Every linked key result brought to its KPI's value (public for tests).
  absl::Status Resync();

 private:
  void Run();

  GoalsService* service_;
  GoalRepository* repo_;
  KpiSource* source_;
  KpiFollowerOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sightline::goals
