#include "services/goals/goals_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/goals/rules.h"
#include "services/goals/service_internal.h"

namespace sightline::goals {
namespace internal {

absl::Status NotFoundGoal(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("goals/", id, " does not exist"));
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool HasHealth(GoalState s) { return s == GoalState::kActive; }

absl::Status CheckEtag(const std::string& given, const std::string& current) {
  if (!given.empty() && given != current) {
    return status::WithErrorInfo(
        absl::AbortedError(
            "etag: the resource changed since it was read; read it again"),
        "ETAG_MISMATCH");
  }
  return absl::OkStatus();
}

absl::Status CheckMask(const std::vector<std::string>& mask,
                       const std::set<std::string>& known) {
  if (mask.empty())
    return status::InvalidField("update_mask",
                                "must name the fields to change");
  for (const auto& path : mask) {
    if (!known.contains(path)) {
      return status::InvalidField(
          "update_mask",
          absl::StrCat("'", path, "' is not a field that can be changed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

using internal::Contains;
using internal::HasHealth;
using internal::kMaxDepth;
using internal::NotFoundGoal;

GoalsService::GoalsService(GoalRepository* repo, OrgService* org,
                           GoalsOptions options, Clock clock)
    : repo_(repo), org_(org), options_(options), clock_(std::move(clock)) {}

int64_t GoalsService::NowMicros() const { return absl::ToUnixMicros(clock_()); }

std::string GoalsService::Actor(const Caller& caller) const {
  if (!caller.person_id.empty())
    return absl::StrCat("people/", caller.person_id);
  return caller.service ? "service" : "unknown";
}

std::string GoalsService::Etag(const Goal& g) const {
  return storage::Etag(absl::StrCat("goals/", g.id), g.revision);
}
std::string GoalsService::Etag(const KeyResult& k) const {
  return storage::Etag(absl::StrCat("goals/", k.goal_id, "/keyResults/", k.id),
                       k.revision);
}
std::string GoalsService::Etag(const Cycle& c) const {
  return storage::Etag(absl::StrCat("cycles/", c.id), c.revision);
}

absl::StatusOr<Cycle> GoalsService::CachedCycle(const std::string& id) {
  {
    absl::MutexLock lock(&cycles_mu_);
    auto it = cycles_.find(id);
    if (it != cycles_.end()) return it->second;
  }
  auto c = repo_->GetCycle(id);
  if (!c.ok()) return c.status();
  absl::MutexLock lock(&cycles_mu_);
  cycles_[id] = *c;
  return *c;
}

void GoalsService::ForgetCycle(const std::string& id) {
  absl::MutexLock lock(&cycles_mu_);
  cycles_.erase(id);
}

double GoalsService::Expected(const std::string& cycle_id,
                              const std::string& start,
                              const std::string& due) {
  return ExpectedAt(cycle_id, start, due, clock_());
}

double GoalsService::ExpectedAt(const std::string& cycle_id,
                                const std::string& start,
                                const std::string& due, absl::Time at) {
  if (!start.empty() && !due.empty()) return ExpectedProgress(start, due, at);
  // A window left to the cycle: read it in place (every warm read of such a
  // goal comes here, so no copy and no exclusive lock).
  auto within = [&](const Cycle& c) {
    return ExpectedProgress(start.empty() ? c.start_date : start,
                            due.empty() ? c.end_date : due, at);
  };
  {
    absl::ReaderMutexLock lock(&cycles_mu_);
    auto it = cycles_.find(cycle_id);
    if (it != cycles_.end()) return within(it->second);
  }
  auto c = CachedCycle(cycle_id);
  return c.ok() ? within(*c) : 0;
}

Health GoalsService::HealthOf(double progress, double expected,
                              Health last) const {
  return ComputeHealth(progress, expected, last, options_.health);
}

GoalView GoalsService::View(Goal g) {
  GoalView v;
  v.goal = std::move(g);
  AsOfNow(v.goal, &v.expected_progress, &v.health);
  return v;
}

void GoalsService::AsOfNow(const Goal& g, double* expected, Health* health) {
  if (!HasHealth(g.state)) return;
  *expected = Expected(g.cycle_id, g.start_date, g.due_date);
  *health = HealthOf(g.progress, *expected, g.last_check_in_status);
}

bool GoalsService::CanSee(const Caller& caller, const Goal& goal) const {
  return CanRead(caller, goal, *org_);
}

absl::StatusOr<bool> GoalsService::CouldSeeAt(const Caller& caller,
                                              const std::string& goal_id,
                                              int64_t time) {
  if (caller.service) return true;  // services read every goal, always
  auto snap = repo_->SnapshotAt(goal_id, time);
  if (!snap.ok()) return snap.status();
  return snap->has_value() && CanRead(caller, (*snap)->goal, *org_);
}

// ---- shared write machinery
// ----------------------------------------------------

// Applies a change of one goal's contribution to every goal above it, one
// ancestor at a time, stopping as soon as a contribution no longer changes.
absl::Status GoalsService::Propagate(GoalTx& tx, const std::string& parent_id,
                                     Contribution before, Contribution after,
                                     int64_t now) {
  std::string next = parent_id;
  for (int depth = 0; !next.empty() && !(before == after); ++depth) {
    if (depth >= kMaxDepth)
      return absl::InternalError("alignment deeper than 64 levels");
    auto p = tx.LoadGoal(next);
    if (!p.ok()) return p.status();
    Contribution p_before = ChildContribution(*p);
    double old_progress = p->progress;
    ApplyChildDelta(&*p, before, after);
    p->update_time = now;
    if (auto s = tx.PutGoal(*p, /*insert=*/false); !s.ok()) return s;
    if (p->progress != old_progress) {
      if (auto s = tx.RecordProgress(p->id, now, p->progress); !s.ok())
        return s;
    }
    before = p_before;
    after = ChildContribution(*p);
    next = p->parent_id;
  }
  return absl::OkStatus();
}

// The goal's contribution moved (progress, weight, state) and maybe its parent.
absl::Status GoalsService::MoveContribution(GoalTx& tx, const Goal& before,
                                            const Goal& after, int64_t now) {
  Contribution b = ChildContribution(before), a = ChildContribution(after);
  if (before.parent_id == after.parent_id)
    return Propagate(tx, after.parent_id, b, a, now);
  if (auto s = Propagate(tx, before.parent_id, b, Contribution{}, now); !s.ok())
    return s;
  return Propagate(tx, after.parent_id, Contribution{}, a, now);
}

// One history entry: bumps the goal's revision, stores it with a snapshot.
absl::Status GoalsService::Record(
    GoalTx& tx, Goal& goal, const std::string& actor, const std::string& reason,
    const std::string& target, const std::string& action,
    std::vector<FieldChange> changes, int64_t now) {
  goal.revision += 1;
  goal.update_time = now;
  if (auto s = tx.PutGoal(goal, /*insert=*/goal.revision == 1); !s.ok())
    return s;
  auto krs = tx.LoadKeyResults(goal.id);
  if (!krs.ok()) return krs.status();
  Revision r;
  r.goal_id = goal.id;
  r.revision = goal.revision;
  r.actor = actor;
  r.time = now;
  r.reason = reason;
  r.target = target;
  r.action = action;
  r.changes = std::move(changes);
  if (auto s = tx.InsertRevision(r, Snapshot{goal, *krs}); !s.ok()) return s;
  return tx.RecordProgress(goal.id, now, goal.progress);
}

// A change to a goal is refused while its cycle is closed.
absl::Status GoalsService::CheckWritable(const Goal& g, GoalTx& tx) {
  auto c = tx.LoadCycle(g.cycle_id);
  if (!c.ok()) return c.status();
  if (c->state == CycleState::kClosed) {
    return status::WithErrorInfo(
        absl::FailedPreconditionError(
            absl::StrCat("cycles/", g.cycle_id,
                         " is closed: its goals and scores are frozen")),
        "CYCLE_CLOSED");
  }
  return absl::OkStatus();
}

// People and teams a goal names must exist (asked of the people service).
absl::Status GoalsService::ValidateGoalPeople(const Goal& g,
                                              const Goal* before) {
  std::vector<std::string> ids, fields;
  auto add = [&](const std::string& id, const std::string& field) {
    ids.push_back(id);
    fields.push_back(field);
  };
  bool owner_changed = before == nullptr || !(before->owner == g.owner);
  if (owner_changed && !g.owner.person_id.empty())
    add(g.owner.person_id, "goal.owner");
  for (size_t i = 0; i < g.contributor_ids.size(); ++i) {
    if (before == nullptr ||
        !Contains(before->contributor_ids, g.contributor_ids[i])) {
      add(g.contributor_ids[i], absl::StrCat("goal.contributors[", i, "]"));
    }
  }
  for (size_t i = 0; i < g.stakeholders.size(); ++i) {
    bool known = false;
    if (before != nullptr) {
      for (const auto& s : before->stakeholders)
        known |= s.person_id == g.stakeholders[i].person_id;
    }
    if (!known)
      add(g.stakeholders[i].person_id,
          absl::StrCat("goal.stakeholders[", i, "].person"));
  }
  if (!ids.empty()) {
    if (auto st = org_->ValidatePeople(ids, fields); !st.ok()) return st;
  }
  if (owner_changed && g.owner.is_team())
    return org_->ValidateTeam(g.owner.team_id, "goal.owner");
  return absl::OkStatus();
}

absl::StatusOr<GoalsService::Parent> GoalsService::LoadParent(
    GoalTx& tx, const Caller& caller, const std::string& parent_id,
    bool aligning) {
  auto p = tx.LoadGoal(parent_id);
  if (!p.ok() || !CanRead(caller, *p, *org_)) {
    return status::InvalidField(
        "goal.parent", absl::StrCat("goals/", parent_id, " does not exist"));
  }
  if (aligning && !CanAlignUnder(caller, *p, *org_)) {
    return status::WithErrorInfo(
        absl::PermissionDeniedError(absl::StrCat(
            "goal.parent: only the owners of goals/", parent_id,
            ", their managers, its contributors and the people it cascades to "
            "(the owner's reports, the owning team's members) may align a "
            "goal under it")),
        "ALIGNMENT_NOT_ALLOWED", {{"field", "goal.parent"}});
  }
  Parent parent;
  parent.goal = *p;
  auto pc = tx.LoadCycle(parent.goal.cycle_id);
  if (!pc.ok()) return pc.status();
  parent.cycle = *pc;
  std::string up = parent.goal.parent_id;
  for (int d = 0; !up.empty() && d < kMaxDepth; ++d) {
    parent.ancestors.push_back(up);
    auto a = tx.LoadGoal(up);
    if (!a.ok()) break;
    up = a->parent_id;
  }
  return parent;
}

absl::StatusOr<Goal> GoalsService::InsertGoal(
    GoalTx& tx, const Caller& caller, Goal goal,
    std::vector<KeyResult> key_results, int64_t now) {
  auto cycle = tx.LoadCycle(goal.cycle_id);
  if (cycle.status().code() == absl::StatusCode::kNotFound) {
    return status::InvalidField(
        "goal.cycle",
        absl::StrCat("cycles/", goal.cycle_id, " does not exist"));
  }
  if (!cycle.ok()) return cycle.status();
  if (cycle->state == CycleState::kClosed) {
    return status::WithErrorInfo(absl::FailedPreconditionError(absl::StrCat(
                                     "cycles/", goal.cycle_id, " is closed")),
                                 "CYCLE_CLOSED");
  }
  std::optional<Parent> parent;
  if (!goal.parent_id.empty()) {
    auto p = LoadParent(tx, caller, goal.parent_id, /*aligning=*/true);
    if (!p.ok()) return p.status();
    parent = std::move(*p);
  }
  if (auto st = CheckAlignment(
          goal, *cycle, parent ? &parent->goal : nullptr,
          parent ? &parent->cycle : nullptr,
          parent ? parent->ancestors : std::vector<std::string>{});
      !st.ok()) {
    return st;
  }
  goal.create_time = goal.update_time = now;
  if (goal.state == GoalState::kActive) goal.activate_time = now;
  goal.kr_weight = goal.kr_weighted = goal.child_weight = goal.child_weighted =
      0;
  for (auto& kr : key_results) {
    kr.id = storage::NewId();
    kr.goal_id = goal.id;
    kr.revision = 1;
    kr.create_time = kr.update_time = now;
    ApplyKrDelta(&goal, Contribution{}, KeyResultContribution(kr));
  }
  RecomputeProgress(&goal);
  goal.revision = 0;
  // The goal row first (its first revision), then its key results.
  goal.revision = 1;
  if (auto s = tx.PutGoal(goal, /*insert=*/true); !s.ok()) return s;
  for (const auto& kr : key_results) {
    if (auto s = tx.PutKeyResult(kr, /*insert=*/true); !s.ok()) return s;
  }
  Revision r;
  r.goal_id = goal.id;
  r.revision = 1;
  r.actor = Actor(caller);
  r.time = now;
  r.target = absl::StrCat("goals/", goal.id);
  r.action = "CREATE";
  r.changes = DiffGoals(Goal{}, goal);
  if (auto s = tx.InsertRevision(r, Snapshot{goal, key_results}); !s.ok())
    return s;
  if (auto s = tx.RecordProgress(goal.id, now, goal.progress); !s.ok())
    return s;
  if (auto s = Propagate(tx, goal.parent_id, Contribution{},
                         ChildContribution(goal), now);
      !s.ok()) {
    return s;
  }
  return goal;
}

// Inside a create's transaction: the answer stored for this request by a
// concurrent retry that committed first, if any; otherwise `answer` (the new
// resource's id) is recorded for it, in the same transaction.
absl::StatusOr<std::optional<std::string>> GoalsService::ClaimRequest(
    GoalTx& tx, const Idempotency& idem, const std::string& answer) {
  if (idem.request_id.empty()) return std::optional<std::string>();
  auto prior = tx.FindIdempotent(idem.scope, idem.request_id, idem.fingerprint);
  if (!prior.ok() || prior->has_value()) return prior;
  if (auto s = tx.RecordIdempotent(idem.scope, idem.request_id,
                                   idem.fingerprint, answer);
      !s.ok()) {
    return s;
  }
  return std::optional<std::string>();
}

absl::StatusOr<std::optional<std::string>> GoalsService::Retried(
    const Idempotency& idem) {
  if (idem.request_id.empty()) return std::optional<std::string>();
  return repo_->FindIdempotent(idem.scope, idem.request_id, idem.fingerprint);
}

absl::Status GoalsService::CheckChildrenFit(GoalTx& tx, const Goal& goal) {
  auto children = tx.LoadChildren(goal.id);
  if (!children.ok()) return children.status();
  if (children->empty()) return absl::OkStatus();
  auto cycle = tx.LoadCycle(goal.cycle_id);
  if (!cycle.ok()) return cycle.status();
  Goal as_parent = goal;
  as_parent.state = GoalState::kActive;  // only the window matters here
  for (const Goal& child : *children) {
    if (!CountsInParent(child.state)) continue;
    auto child_cycle = tx.LoadCycle(child.cycle_id);
    if (!child_cycle.ok()) return child_cycle.status();
    if (!CheckAlignment(child, *child_cycle, &as_parent, &*cycle, {}).ok()) {
      return status::InvalidField(
          "goal.due_date", absl::StrCat("goals/", child.id,
                                        " would fall outside this goal's "
                                        "window; change its dates first"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Goal> GoalsService::GoalForWatch(const std::string& goal_id) {
  if (auto g = repo_->PeekGoal(goal_id); g != nullptr) return g->value();
  return repo_->GetGoal(goal_id);
}

absl::StatusOr<GoalsService::CensusResult> GoalsService::TakeCensus() {
  auto rows = repo_->LiveRows();
  if (!rows.ok()) return rows.status();
  std::map<std::tuple<std::string, int, int, int>, int> counts;
  CensusResult out;
  int64_t now = NowMicros();
  int64_t cadence = int64_t{options_.due_cadence_days} * 86400 * 1000000;
  for (const auto& r : *rows) {
    Health h = Health::kUnspecified;
    if (r.state == GoalState::kActive) {
      h = HealthOf(r.progress, Expected(r.cycle_id, r.start_date, r.due_date),
                   r.last_check_in_status);
      // Every cycle with ACTIVE goals gets a count, 0 included, so that its
      // series exists before the first check-in falls due.
      int& due = out.due_by_cycle[r.cycle_id];
      if (now - std::max(r.last_check_in_time, r.activate_time) >= cadence) {
        ++due;
      }
    }
    ++counts[{r.cycle_id, static_cast<int>(r.level), static_cast<int>(r.state),
              static_cast<int>(h)}];
  }
  for (const auto& [k, n] : counts) {
    out.counts.push_back({std::get<0>(k), static_cast<Level>(std::get<1>(k)),
                          static_cast<GoalState>(std::get<2>(k)),
                          static_cast<Health>(std::get<3>(k)), n});
  }
  return out;
}

}  // namespace sightline::goals
