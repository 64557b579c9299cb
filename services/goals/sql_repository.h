#pragma once

#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "services/goals/repository.h"

namespace sightline::goals {

// The goals service's schema, track "goals".
const std::vector<storage::Migration>& GoalsMigrations();
// What a write reads at random places (the tables and indexes keyed by goal),
// for Database::Prewarm.
std::vector<std::pair<std::string, std::string>> GoalsWritePath();

class SqlGoalRepository : public GoalRepository {
 public:
  explicit SqlGoalRepository(storage::Database* db) : db_(db) {}

  absl::StatusOr<Cycle> GetCycle(const std::string& id) override;
  absl::StatusOr<std::vector<Cycle>> ListCycles(int state,
                                                const Page& page) override;
  absl::StatusOr<Goal> GetGoal(const std::string& id) override;
  absl::StatusOr<std::vector<Goal>> ListGoals(const GoalQuery& q,
                                              const Page& page) override;
  absl::StatusOr<std::vector<KeyResult>> ListKeyResults(
      const std::string& goal_id) override;
  absl::StatusOr<CheckIn> GetCheckIn(const std::string& id) override;
  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const std::string& scope, const std::string& request_id,
      const std::string& fingerprint) override;
  absl::StatusOr<std::vector<CheckIn>> ListCheckIns(const std::string& goal_id,
                                                    const Page& page) override;
  absl::StatusOr<std::vector<Revision>> ListRevisions(
      const std::string& goal_id, const Page& page) override;
  absl::StatusOr<std::optional<Snapshot>> SnapshotAt(const std::string& goal_id,
                                                     int64_t time) override;
  absl::StatusOr<std::vector<GoalRow>> RowsOfCycle(
      const std::string& cycle_id) override;
  absl::StatusOr<std::vector<GoalRow>> ChildRows(
      const std::vector<std::string>& parent_ids) override;
  absl::StatusOr<std::vector<GoalRow>> Rows(
      const std::vector<std::string>& ids) override;
  absl::StatusOr<std::vector<GoalRow>> RowsOfPeople(
      const std::vector<std::string>& person_ids) override;
  absl::StatusOr<std::vector<GoalRow>> LiveRows() override;
  absl::StatusOr<int64_t> ChangeHead() override;
  absl::StatusOr<std::vector<std::string>> GoalsChanged(
      int64_t after_seq, int64_t upto_seq) override;
  absl::StatusOr<std::vector<KpiLink>> KeyResultsLinkedTo(
      const std::string& kpi) override;
  absl::StatusOr<std::vector<std::pair<std::string, KpiLink>>> AllKpiLinks()
      override;
  absl::StatusOr<std::string> KpiResumeToken() override;
  // Indexes the KPI links of key results written before the index existed
  // (once: a no-op after the first run).
  absl::Status IndexKpiLinks();
  absl::Status Write(absl::string_view op,
                     const std::function<absl::Status(GoalTx&)>& fn,
                     int64_t* last_seq) override;
  absl::Status WriteWithRowLocks(
      absl::string_view op,
      const std::function<absl::Status(GoalTx&)>& fn) override;

  storage::Database* db() { return db_; }

 private:
  storage::Database* db_;
};

}  // namespace sightline::goals
