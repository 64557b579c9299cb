#pragma once

// Goals read through process memory, then Redis, then SQL. A write drops the
// goals its transaction touched (roll-ups included) from both after the
// commit; changes committed by other replicas are dropped when the change log
// shows them (Invalidate, called by a change follower in main.cc).

#include "lib/cache/cache.h"
#include "lib/cache/local_cache.h"
#include "services/goals/repository.h"

namespace sightline::goals {

class CachedGoalRepository : public GoalRepository {
 public:
  CachedGoalRepository(GoalRepository* inner, cache::Cache* redis,
                       size_t local_capacity)
      : inner_(inner), redis_(redis), local_(local_capacity) {}

  void ExportMetrics(prometheus::Registry* registry) {
    local_.ExportMetrics(registry, "goals-local");
  }
  // Drops these goals from memory and Redis.
  void Invalidate(const std::vector<std::string>& goal_ids);

  absl::StatusOr<Goal> GetGoal(const std::string& id) override;
  std::shared_ptr<const CachedGoal> PeekGoal(const std::string& id) override {
    return local_.Get(id).value_or(nullptr);
  }
  absl::Status Write(absl::string_view op,
                     const std::function<absl::Status(GoalTx&)>& fn,
                     int64_t* last_seq) override;
  absl::Status WriteWithRowLocks(
      absl::string_view op,
      const std::function<absl::Status(GoalTx&)>& fn) override;

  absl::StatusOr<Cycle> GetCycle(const std::string& id) override {
    return inner_->GetCycle(id);
  }
  absl::StatusOr<std::vector<Cycle>> ListCycles(int state,
                                                const Page& page) override {
    return inner_->ListCycles(state, page);
  }
  absl::StatusOr<std::vector<Goal>> ListGoals(const GoalQuery& q,
                                              const Page& page) override {
    return inner_->ListGoals(q, page);
  }
  absl::StatusOr<std::vector<KeyResult>> ListKeyResults(
      const std::string& goal_id) override {
    return inner_->ListKeyResults(goal_id);
  }
  absl::StatusOr<CheckIn> GetCheckIn(const std::string& id) override {
    return inner_->GetCheckIn(id);
  }
  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const std::string& scope, const std::string& request_id,
      const std::string& fingerprint) override {
    return inner_->FindIdempotent(scope, request_id, fingerprint);
  }
  absl::StatusOr<std::vector<CheckIn>> ListCheckIns(const std::string& goal_id,
                                                    const Page& page) override {
    return inner_->ListCheckIns(goal_id, page);
  }
  absl::StatusOr<std::vector<Revision>> ListRevisions(
      const std::string& goal_id, const Page& page) override {
    return inner_->ListRevisions(goal_id, page);
  }
  absl::StatusOr<std::optional<Snapshot>> SnapshotAt(const std::string& goal_id,
                                                     int64_t time) override {
    return inner_->SnapshotAt(goal_id, time);
  }
  absl::StatusOr<std::vector<GoalRow>> RowsOfCycle(
      const std::string& cycle_id) override {
    return inner_->RowsOfCycle(cycle_id);
  }
  absl::StatusOr<std::vector<GoalRow>> ChildRows(
      const std::vector<std::string>& ids) override {
    return inner_->ChildRows(ids);
  }
  absl::StatusOr<std::vector<GoalRow>> Rows(
      const std::vector<std::string>& ids) override {
    return inner_->Rows(ids);
  }
  absl::StatusOr<std::vector<GoalRow>> RowsOfPeople(
      const std::vector<std::string>& ids) override {
    return inner_->RowsOfPeople(ids);
  }
  absl::StatusOr<std::vector<GoalRow>> LiveRows() override {
    return inner_->LiveRows();
  }
  absl::StatusOr<int64_t> ChangeHead() override { return inner_->ChangeHead(); }
  absl::StatusOr<std::vector<std::string>> GoalsChanged(
      int64_t after_seq, int64_t upto_seq) override {
    return inner_->GoalsChanged(after_seq, upto_seq);
  }
  absl::StatusOr<std::vector<KpiLink>> KeyResultsLinkedTo(
      const std::string& kpi) override {
    return inner_->KeyResultsLinkedTo(kpi);
  }
  absl::StatusOr<std::vector<std::pair<std::string, KpiLink>>> AllKpiLinks()
      override {
    return inner_->AllKpiLinks();
  }
  absl::StatusOr<std::string> KpiResumeToken() override {
    return inner_->KpiResumeToken();
  }

 private:
  GoalRepository* inner_;
  cache::Cache* redis_;
  cache::LocalCache<std::shared_ptr<const CachedGoal>> local_;
};

}  // namespace sightline::goals
