#pragma once

// Storage of goals as the domain sees it. Reads outside transactions; every
// change inside Write(), whose GoalTx reads and writes within one transaction
// (so a check-in and the roll-up of every goal above it commit together).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cache/memoized.h"
#include "lib/storage/tokens.h"
#include "services/goals/codec.h"
#include "services/goals/model.h"

namespace sightline::goals {

using storage::Page;

struct GoalQuery {
  std::string owner_person_id;
  std::string owner_team_id;
  // Goals owned by the team or by any of these people.
  std::vector<std::string> owner_person_in;
  std::string cycle_id;
  std::string parent_id;
  bool top_level = false;  // only goals without a parent
  int state = 0;
};

// What a tree, a list filter or a metric needs of a goal, read without
// decoding the full record.
struct GoalRow {
  std::string id;
  std::string parent_id;
  std::string cycle_id;
  std::string title;
  Owner owner;
  std::vector<std::string> contributor_ids;
  Level level = Level::kIndividual;
  GoalState state = GoalState::kDraft;
  Visibility visibility = Visibility::kPublic;
  double weight = 1;
  double progress = 0;
  std::string start_date;
  std::string due_date;
  Health last_check_in_status = Health::kUnspecified;
  int64_t last_check_in_time = 0;
  int64_t activate_time = 0;
};

// Change-log entities.
inline constexpr char kGoalEntity[] = "goal";
inline constexpr char kKeyResultEntity[] = "key_result";
inline constexpr char kCheckInEntity[] = "check_in";
inline constexpr char kCycleEntity[] = "cycle";

// A key result that follows a KPI (KeyResult::kpi set).
struct KpiLink {
  std::string goal_id;
  std::string key_result_id;
  bool operator==(const KpiLink&) const = default;
};

class GoalTx {
 public:
  virtual ~GoalTx() = default;
  virtual absl::StatusOr<Cycle> LoadCycle(const std::string& id) = 0;
  virtual absl::StatusOr<Goal> LoadGoal(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<KeyResult>> LoadKeyResults(
      const std::string& goal_id) = 0;
  virtual absl::StatusOr<std::vector<Goal>> LoadGoalsOfCycle(
      const std::string& cycle_id) = 0;
  virtual absl::StatusOr<CheckIn> LoadCheckIn(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<Goal>> LoadChildren(
      const std::string& parent_id) = 0;
  // For WriteWithRowLocks: locks the goal and every goal above it, from the
  // root down (the one order every such write agrees on), before any of them
  // is read. Run again (a retryable conflict) if the path moved meanwhile.
  virtual absl::Status LockPath(const std::string& goal_id) = 0;

  virtual absl::Status PutCycle(const Cycle& c, bool insert) = 0;
  // Also emits the goal's change event and marks it touched.
  virtual absl::Status PutGoal(const Goal& g, bool insert) = 0;
  virtual absl::Status DeleteGoal(const Goal& g) = 0;
  virtual absl::Status PutKeyResult(const KeyResult& k, bool insert) = 0;
  virtual absl::Status DeleteKeyResult(const KeyResult& k) = 0;
  virtual absl::Status InsertCheckIn(const CheckIn& c) = 0;
  // History: the entry, with the goal and its key results right after it.
  virtual absl::Status InsertRevision(const Revision& r,
                                      const Snapshot& after) = 0;
  // Progress over time (also of goals whose progress moved by roll-up).
  virtual absl::Status RecordProgress(const std::string& goal_id, int64_t time,
                                      double progress) = 0;

  // Idempotency: the stored answer for a retried request, if any.
  virtual absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const std::string& scope, const std::string& request_id,
      const std::string& fingerprint) = 0;
  virtual absl::Status RecordIdempotent(const std::string& scope,
                                        const std::string& request_id,
                                        const std::string& fingerprint,
                                        const std::string& response) = 0;

  // The position of the KPI follower in the metrics service's WatchKpis feed,
  // committed with the check-ins the events up to it caused.
  virtual absl::Status PutKpiResumeToken(const std::string& token) = 0;

  // Goals changed by this transaction (their cached copies are dropped after
  // the commit).
  virtual const std::set<std::string>& touched() const = 0;
};

// A goal held in memory, with its rendered answer once a reader made it.
using CachedGoal = cache::Memoized<Goal>;

class GoalRepository {
 public:
  virtual ~GoalRepository() = default;

  virtual absl::StatusOr<Cycle> GetCycle(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<Cycle>> ListCycles(int state,
                                                        const Page& page) = 0;

  virtual absl::StatusOr<Goal> GetGoal(const std::string& id) = 0;
  // A goal held in memory, without blocking; null otherwise. The entry is
  // shared and immutable: its rendering is memoized with it.
  virtual std::shared_ptr<const CachedGoal> PeekGoal(
      const std::string& /*id*/) {
    return nullptr;
  }
  virtual absl::StatusOr<std::vector<Goal>> ListGoals(const GoalQuery& q,
                                                      const Page& page) = 0;
  virtual absl::StatusOr<std::vector<KeyResult>> ListKeyResults(
      const std::string& goal_id) = 0;
  virtual absl::StatusOr<CheckIn> GetCheckIn(const std::string& id) = 0;
  // The answer stored for a retried request, read outside a transaction so
  // that a retry is answered before anything about the resource is checked.
  virtual absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const std::string& scope, const std::string& request_id,
      const std::string& fingerprint) = 0;
  // Newest first; the cursor is "<create_time>/<id>".
  virtual absl::StatusOr<std::vector<CheckIn>> ListCheckIns(
      const std::string& goal_id, const Page& page) = 0;
  // Oldest first; the cursor is the last revision number.
  virtual absl::StatusOr<std::vector<Revision>> ListRevisions(
      const std::string& goal_id, const Page& page) = 0;
  // The goal and its key results at `time` (micros), with the progress it had
  // then; nullopt if it did not exist yet.
  virtual absl::StatusOr<std::optional<Snapshot>> SnapshotAt(
      const std::string& goal_id, int64_t time) = 0;

  virtual absl::StatusOr<std::vector<GoalRow>> RowsOfCycle(
      const std::string& cycle_id) = 0;
  virtual absl::StatusOr<std::vector<GoalRow>> ChildRows(
      const std::vector<std::string>& parent_ids) = 0;
  virtual absl::StatusOr<std::vector<GoalRow>> Rows(
      const std::vector<std::string>& ids) = 0;
  // Goals owned by, or contributed to by, these people (any state).
  virtual absl::StatusOr<std::vector<GoalRow>> RowsOfPeople(
      const std::vector<std::string>& person_ids) = 0;
  // Every goal not yet archived (for metrics).
  virtual absl::StatusOr<std::vector<GoalRow>> LiveRows() = 0;

  // The change log's head, and the goals changed after `after_seq` up to
  // `upto_seq` (OUT_OF_RANGE when that part of the log was pruned): what
  // keeps an in-memory copy of the goals exact. UNIMPLEMENTED when the store
  // keeps no change log (the copy is then rebuilt for every read).
  virtual absl::StatusOr<int64_t> ChangeHead() {
    return absl::UnimplementedError("no change log");
  }
  virtual absl::StatusOr<std::vector<std::string>> GoalsChanged(
      int64_t /*after_seq*/, int64_t /*upto_seq*/) {
    return absl::UnimplementedError("no change log");
  }

  // Key results linked to `kpi` (`kpis/{id}`), and to any KPI; the stored
  // resume token of the KPI follower (empty before its first event).
  virtual absl::StatusOr<std::vector<KpiLink>> KeyResultsLinkedTo(
      const std::string& /*kpi*/) {
    return absl::UnimplementedError("no KPI links");
  }
  virtual absl::StatusOr<std::vector<std::pair<std::string, KpiLink>>>
  AllKpiLinks() {
    return absl::UnimplementedError("no KPI links");
  }
  virtual absl::StatusOr<std::string> KpiResumeToken() {
    return absl::UnimplementedError("no KPI follower state");
  }

  // Runs `fn` in one transaction; `last_seq` receives the change-log position.
  virtual absl::Status Write(absl::string_view op,
                             const std::function<absl::Status(GoalTx&)>& fn,
                             int64_t* last_seq = nullptr) = 0;
  // As Write, for a `fn` that calls GoalTx::LockPath on the goal it changes
  // before reading anything: on PostgreSQL it runs READ COMMITTED with those
  // row locks instead of SERIALIZABLE (docs/changelog-postgres.md says which
  // writes qualify and why). Stores that cannot tell the two apart run Write.
  virtual absl::Status WriteWithRowLocks(
      absl::string_view op, const std::function<absl::Status(GoalTx&)>& fn) {
    return Write(op, fn, nullptr);
  }
};

}  // namespace sightline::goals
