#pragma once

// The goals service's rules, applied: who may do what, the state machine,
// validation against the org, progress roll-up along the path to the root (in
// the same transaction as the change), history, trees and lineage. Plain C++:
// the gRPC handler converts protos and calls this.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/storage/idempotency.h"
#include "services/goals/goal_index.h"
#include "services/goals/kpi_source.h"
#include "services/goals/org.h"
#include "services/goals/progress.h"
#include "services/goals/repository.h"

namespace sightline::goals {

struct GoalsOptions {
  // When set, a goal an employee creates for themselves waits for approval by
  // a manager (PENDING_APPROVAL) instead of starting ACTIVE.
  bool approval_required = false;
  HealthPolicy health;
  int due_cadence_days = 7;
  // Rows a List call may scan to fill one page of goals the caller can read.
  int max_scan = 5000;
  // Told of every new check-in (for metrics), with its goal's cycle.
  std::function<void(const std::string& cycle_id)> on_check_in;
  // The metrics service, for key results linked to KPIs; null: linking is
  // refused (FAILED_PRECONDITION) and nothing follows KPIs.
  KpiSource* kpis = nullptr;
};

using storage::Idempotency;

// A goal with what is computed at read time.
struct GoalView {
  Goal goal;
  double expected_progress = 0;
  Health health = Health::kUnspecified;
};

// A goal read from memory: the shared cached entry, and what depends on the
// time of the read.
struct PeekedGoal {
  std::shared_ptr<const CachedGoal> entry;
  double expected_progress = 0;
  Health health = Health::kUnspecified;
};

struct GoalFilter {
  std::string owner_person_id;
  std::string owner_team_id;
  std::string team_id;  // owned by the team or by its members
  std::string cycle_id;
  std::string parent_id;
  int state = 0;
  Health health = Health::kUnspecified;
};

enum class Audience { kTeam, kDirectReports };

struct TreeNode {
  std::string id;
  std::string parent_id;
  int depth = 0;
  bool restricted = false;
  // The goal as the tree shows it; null when restricted.
  std::shared_ptr<const Goal> goal;
  double expected_progress = 0;
  Health health = Health::kUnspecified;
};

struct TreeRoot {
  enum class Kind { kGoal, kTeam, kPerson, kCompany } kind = Kind::kGoal;
  std::string id;  // goal, team or person id
  std::string cycle_id;
};

struct DueItem {
  GoalView goal;
  int days_since = 0;
};

class GoalsService {
 public:
  using Clock = std::function<absl::Time()>;
  GoalsService(
      GoalRepository* repo, OrgService* org, GoalsOptions options,
      Clock clock = [] { return absl::Now(); });

  OrgService& org() { return *org_; }
  const GoalIndex& tree_index() const { return index_; }
  const GoalsOptions& options() const { return options_; }

  absl::StatusOr<Cycle> CreateCycle(const Caller& caller, Cycle cycle,
                                    const Idempotency& idem);
  absl::StatusOr<Cycle> GetCycle(const Caller& caller, const std::string& id);
  absl::StatusOr<std::vector<Cycle>> ListCycles(const Caller& caller, int state,
                                                const Page& page);
  absl::StatusOr<Cycle> CloseCycle(const Caller& caller, const std::string& id,
                                   const std::string& etag);

  absl::StatusOr<GoalView> CreateGoal(const Caller& caller, Goal goal,
                                      std::vector<KeyResult> key_results,
                                      const Idempotency& idem);
  absl::StatusOr<std::vector<GoalView>> BatchCreateGoals(
      const Caller& caller, Goal templ, std::vector<KeyResult> key_results,
      Audience audience, const std::string& audience_id,
      const Idempotency& idem);
  absl::StatusOr<GoalView> GetGoal(
      const Caller& caller, const std::string& id,
      std::optional<absl::Time> as_of = std::nullopt);
  // From memory only (no I/O); nullopt when the goal is not held in memory.
  std::optional<absl::StatusOr<PeekedGoal>> PeekGoal(const Caller& caller,
                                                     const std::string& id);
  absl::StatusOr<std::vector<GoalView>> ListGoals(const Caller& caller,
                                                  const GoalFilter& filter,
                                                  const Page& page,
                                                  std::string* next_cursor);
  // `mask` names Goal fields (API names); `patch` carries their new values.
  absl::StatusOr<GoalView> UpdateGoal(const Caller& caller,
                                      const std::string& id, const Goal& patch,
                                      const std::vector<std::string>& mask,
                                      const std::string& etag,
                                      const std::string& reason);
  absl::Status DeleteGoal(const Caller& caller, const std::string& id,
                          const std::string& etag);
  absl::StatusOr<GoalView> ApproveGoal(const Caller& caller,
                                       const std::string& id,
                                       const std::string& etag,
                                       const std::string& comment);
  absl::StatusOr<GoalView> ReturnGoal(const Caller& caller,
                                      const std::string& id,
                                      const std::string& etag,
                                      const std::string& comment);

  absl::StatusOr<KeyResult> CreateKeyResult(const Caller& caller,
                                            const std::string& goal_id,
                                            KeyResult kr,
                                            const std::string& reason,
                                            const Idempotency& idem);
  absl::StatusOr<KeyResult> UpdateKeyResult(
      const Caller& caller, const std::string& goal_id,
      const std::string& kr_id, const KeyResult& patch,
      const std::vector<std::string>& mask, const std::string& etag,
      const std::string& reason);
  absl::Status DeleteKeyResult(const Caller& caller, const std::string& goal_id,
                               const std::string& kr_id,
                               const std::string& etag,
                               const std::string& reason);
  absl::StatusOr<std::vector<KeyResult>> ListKeyResults(
      const Caller& caller, const std::string& goal_id);

  absl::StatusOr<CheckIn> CreateCheckIn(const Caller& caller,
                                        const std::string& goal_id,
                                        CheckIn check_in,
                                        const Idempotency& idem);
  absl::StatusOr<std::vector<CheckIn>> ListCheckIns(const Caller& caller,
                                                    const std::string& goal_id,
                                                    const Page& page);
  absl::StatusOr<std::vector<DueItem>> ListDueCheckIns(
      const Caller& caller, const std::string& person_id,
      const std::string& manager_id, int cadence_days, const Page& page,
      std::string* next_cursor);
  absl::StatusOr<std::vector<Revision>> ListRevisions(
      const Caller& caller, const std::string& goal_id, const Page& page);

  absl::StatusOr<std::vector<TreeNode>> AlignmentTree(const Caller& caller,
                                                      const TreeRoot& root,
                                                      int depth);
  absl::StatusOr<std::vector<TreeNode>> Lineage(const Caller& caller,
                                                const std::string& goal_id);

  // KPI links (kpi_links_service.cc). FollowKpi moves the key results linked
  // to `kpi` whose goal's period overlaps [from, to] to the KPI's value over
  // that period: one check-in by the system per goal whose values changed,
  // written in one transaction with `resume_token` (the follower's position
  // after the event), also when the values turned out unchanged. Returns the
  // number of check-ins written. When no linked key result's period overlaps,
  // nothing is written (the follower stores the token itself, in batches).
  absl::StatusOr<int> FollowKpi(const KpiInfo& kpi, absl::Time from,
                                absl::Time to, const std::string& resume_token);
  absl::Status StoreKpiResumeToken(const std::string& token);

  // For Watch streams: whether the caller may see a change of this goal.
  bool CanSee(const Caller& caller, const Goal& goal) const;
  absl::StatusOr<Goal> GoalForWatch(const std::string& goal_id);
  // Whether the caller could see the goal as it stood at `time` (micros): a
  // key result or check-in written then is shown under the visibility the
  // goal had when it was written, also when a stream replays it later.
  absl::StatusOr<bool> CouldSeeAt(const Caller& caller,
                                  const std::string& goal_id, int64_t time);

  // Read-time computations.
  GoalView View(Goal g);
  // Expected progress and health of `g` now (left as they are for a goal in
  // a state without health).
  void AsOfNow(const Goal& g, double* expected, Health* health);
  double Expected(const std::string& cycle_id, const std::string& start,
                  const std::string& due);
  double ExpectedAt(const std::string& cycle_id, const std::string& start,
                    const std::string& due, absl::Time at);
  Health HealthOf(double progress, double expected, Health last_status) const;

  // Counts for the sightline_goals gauges: by cycle, state and health.
  struct Census {
    std::string cycle_id;
    Level level;
    GoalState state;
    Health health;
    int count = 0;
  };
  struct CensusResult {
    std::vector<Census> counts;
    std::map<std::string, int>
        due_by_cycle;  // ACTIVE goals past their check-in cadence, by every
                       // cycle that has ACTIVE goals (0 included)
  };
  absl::StatusOr<CensusResult> TakeCensus();

  std::string Etag(const Goal& g) const;
  std::string Etag(const KeyResult& k) const;
  std::string Etag(const Cycle& c) const;

 private:
  absl::StatusOr<Cycle> CachedCycle(const std::string& id);
  void ForgetCycle(const std::string& id);
  absl::Status CheckWritable(const Goal& g, GoalTx& tx);
  // Inside a write that changes key result `kr_id`: its goal (checked
  // writable) and the key result as stored (checked against `etag`).
  struct GoalAndKeyResult {
    Goal goal;
    KeyResult key_result;
  };
  absl::StatusOr<GoalAndKeyResult> LoadKeyResultToChange(
      GoalTx& tx, const std::string& goal_id, const std::string& kr_id,
      const std::string& etag);
  // A goal's new window must still hold each of its children.
  absl::Status CheckChildrenFit(GoalTx& tx, const Goal& goal);
  // A stored answer to a retried create, read before anything is checked.
  absl::StatusOr<std::optional<std::string>> Retried(const Idempotency& idem);
  absl::StatusOr<std::optional<std::string>> ClaimRequest(
      GoalTx& tx, const Idempotency& idem, const std::string& answer);
  absl::Status ValidateGoalPeople(const Goal& g, const Goal* before);
  // Key results of `goals` may follow the KPIs they name (`kpis/{id}`): each
  // exists and each goal's owner may read it. Errors name
  // `<field_prefix>[i].kpi`, or `key_result.kpi` for the prefix
  // "key_result".
  absl::Status CheckKpiLinks(const std::vector<Goal>& goals,
                             const std::vector<KeyResult>& key_results,
                             const std::string& field_prefix);
  absl::StatusOr<KpiInfo> LinkableKpi(const std::string& kpi,
                                      const std::string& field);
  // Whether the goal's owner may read the KPI and, for a derived one, every
  // KPI it is computed from (asked of the metrics service).
  absl::StatusOr<bool> OwnerReadsKpi(const Goal& goal, const KpiInfo& info,
                                     int depth = 0);
  absl::Status OwnerMayRead(const Goal& goal, const KpiInfo& info,
                            const std::string& field);
  // The goal's period, [first day, day after the due date) in UTC.
  absl::StatusOr<std::pair<absl::Time, absl::Time>> PeriodOf(const Goal& g);
  absl::Status WriteCheckIn(GoalTx& tx, const Goal& fresh, CheckIn& c,
                            const std::string& actor, int64_t now);
  absl::Status Propagate(GoalTx& tx, const std::string& parent_id,
                         Contribution before, Contribution after, int64_t now);
  absl::Status MoveContribution(GoalTx& tx, const Goal& before,
                                const Goal& after, int64_t now);
  absl::Status Record(GoalTx& tx, Goal& goal, const std::string& actor,
                      const std::string& reason, const std::string& target,
                      const std::string& action,
                      std::vector<FieldChange> changes, int64_t now);
  absl::StatusOr<GoalView> Decide(const Caller& caller, const std::string& id,
                                  const std::string& etag,
                                  const std::string& comment, bool approve);
  // The goal's revisions, oldest first, each with whether the caller may read
  // the goal as it stood right after it.
  struct ReadableRevision {
    Revision revision;
    bool readable = false;
  };
  absl::StatusOr<std::vector<ReadableRevision>> ReadableHistory(
      const Caller& caller, const std::string& goal_id);
  // Whether the goal as it stood at `time` (micros) was readable.
  static bool ReadableAt(const std::vector<ReadableRevision>& history,
                         int64_t time);
  // The goal a goal is aligned under, with its cycle and ancestors (nearest
  // first), for CheckAlignment. A parent that is missing or that the caller
  // may not read is INVALID_ARGUMENT naming goal.parent, in the same words;
  // when `aligning` (a new child, or a goal moved under it) the caller must
  // also be allowed to align under it (CanAlignUnder), else PERMISSION_DENIED.
  struct Parent {
    Goal goal;
    Cycle cycle;
    std::vector<std::string> ancestors;
  };
  absl::StatusOr<Parent> LoadParent(GoalTx& tx, const Caller& caller,
                                    const std::string& parent_id,
                                    bool aligning);
  absl::StatusOr<Goal> InsertGoal(GoalTx& tx, const Caller& caller, Goal goal,
                                  std::vector<KeyResult> key_results,
                                  int64_t now);
  std::string Actor(const Caller& caller) const;
  int64_t NowMicros() const;

  GoalRepository* repo_;
  OrgService* org_;
  // The goals of the cycles trees were asked for.
  GoalIndex index_{repo_};
  GoalsOptions options_;
  Clock clock_;
  absl::Mutex cycles_mu_;
  absl::flat_hash_map<std::string, Cycle> cycles_ ABSL_GUARDED_BY(cycles_mu_);
};

}  // namespace sightline::goals
