#include "services/goals/goals_service.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/goals/rules.h"

namespace sightline::goals {
namespace {

constexpr int kMaxDepth = 64;
constexpr int kMaxBatch = 1000;
constexpr int kMaxKeyResults = 50;

absl::Status NotFoundGoal(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("goals/", id, " does not exist"));
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Fills unset fields of a new goal with their documented defaults.
void ApplyGoalDefaults(Goal* g) {
  if (g->weight == 0) g->weight = 1;
  if (static_cast<int>(g->progress_source) == 0)
    g->progress_source = ProgressSource::kBoth;
  if (static_cast<int>(g->kind) == 0) g->kind = Kind::kCommitted;
  if (static_cast<int>(g->visibility) == 0) g->visibility = Visibility::kPublic;
  if (static_cast<int>(g->level) == 0) {
    g->level = g->owner.is_team() ? Level::kTeam : Level::kIndividual;
  }
}

// Health and expected progress describe goals being worked on: ACTIVE ones.
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

}  // namespace

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

// ---- cycles -----------------------------------------------------------------

absl::StatusOr<Cycle> GoalsService::CreateCycle(const Caller& caller,
                                                Cycle cycle,
                                                const Idempotency& idem) {
  if (auto prior = Retried(idem); !prior.ok()) {
    return prior.status();
  } else if (prior->has_value()) {
    return repo_->GetCycle(**prior);
  }
  if (!caller.hr_admin && !caller.service) {
    return absl::PermissionDeniedError(
        "creating a cycle needs the hr_admin role");
  }
  if (static_cast<int>(cycle.state) == 0) cycle.state = CycleState::kPlanning;
  if (cycle.state == CycleState::kClosed) {
    return status::InvalidField("cycle.state",
                                "a cycle is closed with CloseCycle");
  }
  if (auto st = ValidateCycle(cycle); !st.ok()) return st;
  int64_t now = NowMicros();
  cycle.id = storage::NewId();
  cycle.revision = 1;
  cycle.create_time = cycle.update_time = now;
  Cycle result = cycle;
  auto st = repo_->Write("cycles.create", [&](GoalTx& tx) -> absl::Status {
    auto prior = ClaimRequest(tx, idem, cycle.id);
    if (!prior.ok()) return prior.status();
    if (prior->has_value()) {
      auto c = tx.LoadCycle(**prior);
      if (!c.ok()) return c.status();
      result = *c;
      return absl::OkStatus();
    }
    return tx.PutCycle(cycle, /*insert=*/true);
  });
  if (!st.ok()) return st;
  return result;
}

absl::StatusOr<Cycle> GoalsService::GetCycle(const Caller&,
                                             const std::string& id) {
  return repo_->GetCycle(id);
}

absl::StatusOr<std::vector<Cycle>> GoalsService::ListCycles(const Caller&,
                                                            int state,
                                                            const Page& page) {
  return repo_->ListCycles(state, page);
}

absl::StatusOr<Cycle> GoalsService::CloseCycle(const Caller& caller,
                                               const std::string& id,
                                               const std::string& etag) {
  if (!caller.hr_admin && !caller.service) {
    return absl::PermissionDeniedError(
        "closing a cycle needs the hr_admin role");
  }
  Cycle result;
  int64_t now = NowMicros();
  auto st = repo_->Write("cycles.close", [&](GoalTx& tx) -> absl::Status {
    auto c = tx.LoadCycle(id);
    if (!c.ok()) return c.status();
    if (auto s = CheckEtag(etag, Etag(*c)); !s.ok()) return s;
    if (c->state == CycleState::kClosed) {
      return absl::FailedPreconditionError(
          absl::StrCat("cycles/", id, " is already closed"));
    }
    auto goals = tx.LoadGoalsOfCycle(id);
    if (!goals.ok()) return goals.status();
    for (Goal& g : *goals) {
      if (g.state == GoalState::kDraft || g.state == GoalState::kCancelled ||
          g.state == GoalState::kArchived) {
        continue;
      }
      // The score is frozen: the cycle's record of what was achieved.
      Goal before = g;
      // The cycle is over: live goals are completed, and their score frozen.
      if (g.state == GoalState::kActive) g.state = GoalState::kCompleted;
      g.score = Score(g.progress);
      g.outcome = ComputeOutcome(g.kind, *g.score, options_.health);
      auto changes = DiffGoals(before, g);
      changes.push_back({"score", "", absl::StrCat(*g.score)});
      if (auto s = Record(tx, g, Actor(caller), "cycle closed",
                          absl::StrCat("goals/", g.id), "CLOSE",
                          std::move(changes), now);
          !s.ok()) {
        return s;
      }
    }
    c->state = CycleState::kClosed;
    c->close_time = now;
    c->update_time = now;
    c->revision += 1;
    result = *c;
    return tx.PutCycle(*c, /*insert=*/false);
  });
  ForgetCycle(id);
  if (!st.ok()) return st;
  return result;
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
  std::optional<Goal> parent;
  std::optional<Cycle> parent_cycle;
  std::vector<std::string> ancestors;
  if (!goal.parent_id.empty()) {
    auto p = tx.LoadGoal(goal.parent_id);
    if (!p.ok() || !CanRead(caller, *p, *org_)) {
      return status::InvalidField(
          "goal.parent",
          absl::StrCat("goals/", goal.parent_id, " does not exist"));
    }
    parent = *p;
    auto pc = tx.LoadCycle(parent->cycle_id);
    if (!pc.ok()) return pc.status();
    parent_cycle = *pc;
    std::string up = parent->parent_id;
    for (int d = 0; !up.empty() && d < kMaxDepth; ++d) {
      ancestors.push_back(up);
      auto a = tx.LoadGoal(up);
      if (!a.ok()) break;
      up = a->parent_id;
    }
  }
  if (auto st =
          CheckAlignment(goal, *cycle, parent ? &*parent : nullptr,
                         parent_cycle ? &*parent_cycle : nullptr, ancestors);
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

// ---- goals
// ------------------------------------------------------------------------

absl::StatusOr<GoalView> GoalsService::CreateGoal(
    const Caller& caller, Goal goal, std::vector<KeyResult> key_results,
    const Idempotency& idem) {
  if (auto prior = Retried(idem); !prior.ok()) {
    return prior.status();
  } else if (prior->has_value()) {
    auto g = repo_->GetGoal(**prior);
    if (!g.ok()) return g.status();
    return View(*g);
  }
  bool want_draft = goal.state == GoalState::kDraft;
  if (static_cast<int>(goal.state) != 0 && !want_draft) {
    return status::InvalidField("goal.state",
                                "a new goal is DRAFT, or left unset");
  }
  ApplyGoalDefaults(&goal);
  goal.state = GoalState::kActive;  // validated as a stored goal; decided below
  status::FieldErrors errors;
  if (auto st = ValidateGoal(goal, "goal"); !st.ok()) {
    for (const auto& v : status::FieldViolations(st))
      errors.Add(v.field, v.description);
    if (status::FieldViolations(st).empty()) return st;
  }
  if (key_results.size() > static_cast<size_t>(kMaxKeyResults)) {
    errors.Add("key_results",
               absl::StrCat("at most ", kMaxKeyResults, " per goal"));
  }
  for (size_t i = 0; i < key_results.size(); ++i) {
    ApplyKeyResultDefaults(&key_results[i]);
    if (auto st = ValidateKeyResult(key_results[i],
                                    absl::StrCat("key_results[", i, "]"));
        !st.ok()) {
      for (const auto& v : status::FieldViolations(st))
        errors.Add(v.field, v.description);
    }
  }
  if (!errors.empty()) return errors.Build();
  if (!CanEdit(caller, goal, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner, the owning team's lead or their managers may create "
        "this goal");
  }
  // Self-set goals wait for a manager when the deployment asks for it.
  bool self_set =
      !caller.person_id.empty() && caller.person_id == goal.owner.person_id;
  if (want_draft) {
    goal.state = GoalState::kDraft;
  } else if (options_.approval_required && self_set &&
             goal.level == Level::kIndividual) {
    goal.state = GoalState::kPendingApproval;
  } else {
    goal.state = GoalState::kActive;
  }
  if (auto st = ValidateGoalPeople(goal, nullptr); !st.ok()) return st;
  goal.id = storage::NewId();
  Goal created;
  int64_t now = NowMicros();
  auto st = repo_->Write("goals.create", [&](GoalTx& tx) -> absl::Status {
    auto prior = ClaimRequest(tx, idem, goal.id);
    if (!prior.ok()) return prior.status();
    if (prior->has_value()) {
      auto g = tx.LoadGoal(**prior);
      if (!g.ok()) return g.status();
      created = *g;
      return absl::OkStatus();
    }
    auto g = InsertGoal(tx, caller, goal, key_results, now);
    if (!g.ok()) return g.status();
    created = *g;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return View(created);
}

absl::StatusOr<std::vector<GoalView>> GoalsService::BatchCreateGoals(
    const Caller& caller, Goal templ, std::vector<KeyResult> key_results,
    Audience audience, const std::string& audience_id,
    const Idempotency& idem) {
  if (auto prior = Retried(idem); !prior.ok()) {
    return prior.status();
  } else if (prior->has_value()) {
    std::vector<GoalView> out;
    for (absl::string_view id :
         absl::StrSplit(**prior, ',', absl::SkipEmpty())) {
      auto g = repo_->GetGoal(std::string(id));
      if (!g.ok()) return g.status();
      out.push_back(View(*g));
    }
    return out;
  }
  std::vector<std::string> people;
  if (audience == Audience::kTeam) {
    if (auto st = org_->ValidateTeam(audience_id, "team"); !st.ok()) return st;
    people = org_->TeamMembers(audience_id);
  } else {
    if (auto st = org_->ValidatePeople({audience_id}, {"manager"}); !st.ok())
      return st;
    people = org_->Reports(audience_id, /*all_levels=*/false);
  }
  if (people.empty()) {
    return absl::FailedPreconditionError("the audience has no active members");
  }
  if (people.size() > static_cast<size_t>(kMaxBatch)) {
    return status::InvalidField(
        audience == Audience::kTeam ? "team" : "manager",
        absl::StrCat("more than ", kMaxBatch, " people"));
  }
  if (static_cast<int>(templ.state) != 0) {
    return status::InvalidField("template.state",
                                "is set per goal by the service");
  }
  templ.level = Level::kIndividual;
  ApplyGoalDefaults(&templ);
  std::vector<Goal> goals;
  status::FieldErrors errors;
  for (size_t i = 0; i < key_results.size(); ++i) {
    ApplyKeyResultDefaults(&key_results[i]);
    if (auto st = ValidateKeyResult(key_results[i],
                                    absl::StrCat("key_results[", i, "]"));
        !st.ok()) {
      for (const auto& v : status::FieldViolations(st))
        errors.Add(v.field, v.description);
    }
  }
  for (const auto& person : people) {
    Goal g = templ;
    g.owner = Owner{person, ""};
    g.contributor_ids.erase(
        std::remove(g.contributor_ids.begin(), g.contributor_ids.end(), person),
        g.contributor_ids.end());
    g.state = GoalState::kActive;
    if (auto st = ValidateGoal(g, "template"); !st.ok()) {
      for (const auto& v : status::FieldViolations(st))
        errors.Add(v.field, v.description);
      break;
    }
    // Assigning is a manager's act: the caller must be allowed to edit each.
    if (!CanEdit(caller, g, *org_)) {
      return absl::PermissionDeniedError(
          absl::StrCat("you may not set goals for people/", person,
                       " (not in your reporting line)"));
    }
    if (options_.approval_required && person == caller.person_id) {
      g.state = GoalState::kPendingApproval;  // a goal set for oneself waits
    }
    g.id = storage::NewId();
    goals.push_back(std::move(g));
  }
  if (!errors.empty()) return errors.Build();
  if (auto st = org_->ValidatePeople(
          people, std::vector<std::string>(people.size(), "audience"));
      !st.ok()) {
    return st;
  }
  std::vector<Goal> created;
  int64_t now = NowMicros();
  auto st = repo_->Write("goals.batch_create", [&](GoalTx& tx) -> absl::Status {
    created.clear();
    std::vector<std::string> ids;
    for (const auto& g : goals) ids.push_back(g.id);
    auto prior = ClaimRequest(tx, idem, absl::StrJoin(ids, ","));
    if (!prior.ok()) return prior.status();
    if (prior->has_value()) {
      for (absl::string_view id :
           absl::StrSplit(**prior, ',', absl::SkipEmpty())) {
        auto g = tx.LoadGoal(std::string(id));
        if (!g.ok()) return g.status();
        created.push_back(*g);
      }
      return absl::OkStatus();
    }
    for (const Goal& g : goals) {
      auto made = InsertGoal(tx, caller, g, key_results, now);
      if (!made.ok()) return made.status();
      created.push_back(*made);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  std::vector<GoalView> out;
  for (const auto& g : created) out.push_back(View(g));
  return out;
}

std::optional<absl::StatusOr<PeekedGoal>> GoalsService::PeekGoal(
    const Caller& caller, const std::string& id) {
  auto entry = repo_->PeekGoal(id);
  if (entry == nullptr) return std::nullopt;
  const Goal& g = entry->value();
  if (!CanRead(caller, g, *org_))
    return absl::StatusOr<PeekedGoal>(NotFoundGoal(id));
  // Expected progress may need the cycle: only from memory here.
  {
    absl::ReaderMutexLock lock(&cycles_mu_);
    if ((g.start_date.empty() || g.due_date.empty()) &&
        !cycles_.contains(g.cycle_id)) {
      return std::nullopt;
    }
  }
  PeekedGoal out;
  AsOfNow(g, &out.expected_progress, &out.health);
  out.entry = std::move(entry);
  return absl::StatusOr<PeekedGoal>(std::move(out));
}

absl::StatusOr<GoalView> GoalsService::GetGoal(
    const Caller& caller, const std::string& id,
    std::optional<absl::Time> as_of) {
  auto g = repo_->GetGoal(id);
  if (!g.ok()) return g.status();
  if (!CanRead(caller, *g, *org_)) return NotFoundGoal(id);
  if (!as_of.has_value()) return View(*g);
  auto snap = repo_->SnapshotAt(id, absl::ToUnixMicros(*as_of));
  if (!snap.ok()) return snap.status();
  if (!snap->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("goals/", id, " did not exist at that time"));
  }
  GoalView v;
  v.goal = (*snap)->goal;
  // As it stood then: expected progress and health at that time.
  if (HasHealth(v.goal.state)) {
    v.expected_progress =
        ExpectedAt(v.goal.cycle_id, v.goal.start_date, v.goal.due_date, *as_of);
    v.health = HealthOf(v.goal.progress, v.expected_progress,
                        v.goal.last_check_in_status);
  }
  return v;
}

absl::StatusOr<std::vector<GoalView>> GoalsService::ListGoals(
    const Caller& caller, const GoalFilter& f, const Page& page,
    std::string* next_cursor) {
  GoalQuery q;
  q.owner_person_id = f.owner_person_id;
  q.owner_team_id = f.owner_team_id;
  if (!f.team_id.empty()) {
    q.owner_team_id = f.team_id;
    q.owner_person_in = org_->TeamMembers(f.team_id);
    if (q.owner_person_in.empty()) q.owner_person_in.push_back("");
  }
  q.cycle_id = f.cycle_id;
  q.parent_id = f.parent_id;
  q.state = f.state;
  std::vector<GoalView> out;
  next_cursor->clear();
  Page scan = page;
  int scanned = 0;
  const int want = page.limit;
  if (want <= 0) return out;
  scan.limit = std::max(want + 1, 100);
  for (;;) {
    auto batch = repo_->ListGoals(q, scan);
    if (!batch.ok()) return batch.status();
    for (const Goal& g : *batch) {
      ++scanned;
      scan.after = g.id;
      if (!CanRead(caller, g, *org_)) continue;
      GoalView v = View(g);
      if (f.health != Health::kUnspecified && v.health != f.health) continue;
      if (static_cast<int>(out.size()) == want) {
        // One more readable goal exists: the page ends before it.
        *next_cursor = out.back().goal.id;
        return out;
      }
      out.push_back(std::move(v));
    }
    if (static_cast<int>(batch->size()) < scan.limit) return out;  // the end
    if (scanned >= options_.max_scan) {
      // A short page keeps the call bounded; the client continues from here.
      *next_cursor = scan.after;
      return out;
    }
  }
}

namespace {

const std::set<std::string>& GoalMaskFields() {
  static const auto* f = new std::set<std::string>{
      "title",        "description", "owner",      "contributors",
      "stakeholders", "level",       "cycle",      "start_date",
      "due_date",     "parent",      "weight",     "progress_source",
      "kind",         "hypothesis",  "visibility", "state",
      "tags"};
  return *f;
}

const std::set<std::string>& KeyResultMaskFields() {
  static const auto* f = new std::set<std::string>{
      "title",  "measure",        "currency_code", "direction", "baseline",
      "target", "stretch_target", "current",       "unit",      "weight",
      "kpi"};
  return *f;
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

void ApplyGoalMask(const Goal& patch, const std::vector<std::string>& mask,
                   Goal* g) {
  for (const auto& p : mask) {
    if (p == "title")
      g->title = patch.title;
    else if (p == "description")
      g->description = patch.description;
    else if (p == "owner")
      g->owner = patch.owner;
    else if (p == "contributors")
      g->contributor_ids = patch.contributor_ids;
    else if (p == "stakeholders")
      g->stakeholders = patch.stakeholders;
    else if (p == "level")
      g->level = patch.level;
    else if (p == "cycle")
      g->cycle_id = patch.cycle_id;
    else if (p == "start_date")
      g->start_date = patch.start_date;
    else if (p == "due_date")
      g->due_date = patch.due_date;
    else if (p == "parent")
      g->parent_id = patch.parent_id;
    else if (p == "weight")
      g->weight = patch.weight;
    else if (p == "progress_source")
      g->progress_source = patch.progress_source;
    else if (p == "kind")
      g->kind = patch.kind;
    else if (p == "hypothesis")
      g->hypothesis = patch.hypothesis;
    else if (p == "visibility")
      g->visibility = patch.visibility;
    else if (p == "state")
      g->state = patch.state;
    else if (p == "tags")
      g->tags = patch.tags;
  }
}

void ApplyKeyResultMask(const KeyResult& patch,
                        const std::vector<std::string>& mask, KeyResult* k) {
  for (const auto& p : mask) {
    if (p == "title")
      k->title = patch.title;
    else if (p == "measure")
      k->measure = patch.measure;
    else if (p == "currency_code")
      k->currency_code = patch.currency_code;
    else if (p == "direction")
      k->direction = patch.direction;
    else if (p == "baseline")
      k->baseline = patch.baseline;
    else if (p == "target")
      k->target = patch.target;
    else if (p == "stretch_target")
      k->stretch_target = patch.stretch_target;
    else if (p == "current")
      k->current = patch.current;
    else if (p == "unit")
      k->unit = patch.unit;
    else if (p == "weight")
      k->weight = patch.weight;
    else if (p == "kpi")
      k->kpi = patch.kpi;
  }
}

bool Masked(const std::vector<std::string>& mask, absl::string_view field) {
  return std::find(mask.begin(), mask.end(), field) != mask.end();
}

}  // namespace

absl::StatusOr<GoalView> GoalsService::UpdateGoal(
    const Caller& caller, const std::string& id, const Goal& patch,
    const std::vector<std::string>& mask, const std::string& etag,
    const std::string& reason) {
  if (auto st = CheckMask(mask, GoalMaskFields()); !st.ok()) return st;
  auto current = repo_->GetGoal(id);
  if (!current.ok()) return current.status();
  if (!CanRead(caller, *current, *org_)) return NotFoundGoal(id);
  if (!CanEdit(caller, *current, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner and the owner's managers may edit a goal");
  }
  if (auto st = CheckEtag(etag, Etag(*current)); !st.ok()) return st;
  Goal next = *current;
  ApplyGoalMask(patch, mask, &next);
  if (Masked(mask, "state") && next.state != current->state) {
    if (current->state == GoalState::kPendingApproval) {
      return absl::FailedPreconditionError(
          "a goal waiting for approval is approved with ApproveGoal or "
          "returned with ReturnGoal");
    }
    bool self_set = !caller.person_id.empty() &&
                    caller.person_id == current->owner.person_id;
    if (next.state == GoalState::kActive &&
        current->state == GoalState::kDraft && options_.approval_required &&
        self_set && next.level == Level::kIndividual) {
      next.state = GoalState::kPendingApproval;  // submitted, not activated
    }
    if (next.state == GoalState::kActive &&
        current->state == GoalState::kPendingApproval) {
      return absl::FailedPreconditionError("use ApproveGoal");
    }
    if (auto st = CheckTransition(current->state, next.state); !st.ok())
      return st;
  }
  if (auto st = ValidateGoal(next, "goal"); !st.ok()) return st;
  auto changes = DiffGoals(*current, next);
  if (changes.empty()) return View(*current);
  if (auto st = ValidateReason(reason, GoalChangesNeedReason(changes));
      !st.ok())
    return st;
  if (!CanEdit(caller, next, *org_)) {
    return absl::PermissionDeniedError(
        "you may not hand this goal to that owner");
  }
  if (auto st = ValidateGoalPeople(next, &*current); !st.ok()) return st;
  Goal result;
  int64_t now = NowMicros();
  auto st = repo_->Write("goals.update", [&](GoalTx& tx) -> absl::Status {
    auto fresh = tx.LoadGoal(id);
    if (!fresh.ok()) return fresh.status();
    if (fresh->revision != current->revision) {
      return status::WithErrorInfo(
          absl::AbortedError(
              "etag: the goal changed while this update was prepared; retry"),
          "ETAG_MISMATCH");
    }
    bool archiving_only = mask.size() == 1 && Masked(mask, "state") &&
                          next.state == GoalState::kArchived;
    if (!archiving_only) {
      if (auto s = CheckWritable(*fresh, tx); !s.ok()) return s;
    }
    Goal updated = *fresh;
    ApplyGoalMask(patch, mask, &updated);
    updated.state = next.state;
    bool moved = updated.parent_id != fresh->parent_id;
    bool window = moved || updated.cycle_id != fresh->cycle_id ||
                  updated.start_date != fresh->start_date ||
                  updated.due_date != fresh->due_date;
    // A level change can break the no-parent rule of COMPANY goals.
    if (window || updated.level != fresh->level) {
      auto cycle = tx.LoadCycle(updated.cycle_id);
      if (!cycle.ok()) {
        return status::InvalidField(
            "goal.cycle",
            absl::StrCat("cycles/", updated.cycle_id, " does not exist"));
      }
      if (cycle->state == CycleState::kClosed) {
        return absl::FailedPreconditionError(
            absl::StrCat("cycles/", updated.cycle_id, " is closed"));
      }
      std::optional<Goal> parent;
      std::optional<Cycle> parent_cycle;
      std::vector<std::string> ancestors;
      if (!updated.parent_id.empty()) {
        auto p = tx.LoadGoal(updated.parent_id);
        if (!p.ok() || !CanRead(caller, *p, *org_)) {
          return status::InvalidField(
              "goal.parent",
              absl::StrCat("goals/", updated.parent_id, " does not exist"));
        }
        parent = *p;
        // A parent that was cancelled later still holds its existing children.
        if (!moved) parent->state = GoalState::kActive;
        auto pc = tx.LoadCycle(parent->cycle_id);
        if (!pc.ok()) return pc.status();
        parent_cycle = *pc;
        std::string up = parent->parent_id;
        for (int d = 0; !up.empty() && d < kMaxDepth; ++d) {
          ancestors.push_back(up);
          auto a = tx.LoadGoal(up);
          if (!a.ok()) break;
          up = a->parent_id;
        }
      }
      if (auto s = CheckAlignment(updated, *cycle, parent ? &*parent : nullptr,
                                  parent_cycle ? &*parent_cycle : nullptr,
                                  ancestors);
          !s.ok()) {
        return s;
      }
    }
    if (window) {
      if (auto s = CheckChildrenFit(tx, updated); !s.ok()) return s;
    }
    if (updated.progress_source != fresh->progress_source)
      RecomputeProgress(&updated);
    if (updated.state == GoalState::kActive &&
        fresh->state != GoalState::kActive) {
      updated.activate_time = now;
    }
    // In a closed cycle progress is frozen: archiving moves nothing.
    if (!archiving_only || CheckWritable(*fresh, tx).ok()) {
      if (auto s = MoveContribution(tx, *fresh, updated, now); !s.ok())
        return s;
    }
    if (auto s = Record(tx, updated, Actor(caller), reason,
                        absl::StrCat("goals/", id), "UPDATE",
                        DiffGoals(*fresh, updated), now);
        !s.ok()) {
      return s;
    }
    result = updated;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return View(result);
}

absl::Status GoalsService::DeleteGoal(const Caller& caller,
                                      const std::string& id,
                                      const std::string& etag) {
  auto current = repo_->GetGoal(id);
  if (!current.ok()) return current.status();
  if (!CanRead(caller, *current, *org_)) return NotFoundGoal(id);
  if (!CanEdit(caller, *current, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner and the owner's managers may delete a goal");
  }
  if (auto st = CheckEtag(etag, Etag(*current)); !st.ok()) return st;
  if (current->state != GoalState::kDraft) {
    return absl::FailedPreconditionError(
        "only DRAFT goals are deleted; cancel or archive this one instead");
  }
  auto children = repo_->ChildRows({id});
  if (!children.ok()) return children.status();
  if (!children->empty()) {
    return absl::FailedPreconditionError(
        "the goal has children: move or delete them first");
  }
  int64_t now = NowMicros();
  return repo_->Write("goals.delete", [&](GoalTx& tx) -> absl::Status {
    auto fresh = tx.LoadGoal(id);
    if (!fresh.ok()) return fresh.status();
    if (fresh->state != GoalState::kDraft) {
      return absl::FailedPreconditionError("the goal is no longer a DRAFT");
    }
    auto krs = tx.LoadKeyResults(id);
    if (!krs.ok()) return krs.status();
    Revision r;
    r.goal_id = id;
    r.revision = fresh->revision + 1;
    r.actor = Actor(caller);
    r.time = now;
    r.target = absl::StrCat("goals/", id);
    r.action = "DELETE";
    if (auto s = tx.InsertRevision(r, Snapshot{*fresh, *krs}); !s.ok())
      return s;
    if (auto s = tx.DeleteGoal(*fresh); !s.ok()) return s;
    return Propagate(tx, fresh->parent_id, ChildContribution(*fresh),
                     Contribution{}, now);
  });
}

absl::StatusOr<GoalView> GoalsService::ApproveGoal(const Caller& caller,
                                                   const std::string& id,
                                                   const std::string& etag,
                                                   const std::string& comment) {
  return Decide(caller, id, etag, comment, /*approve=*/true);
}

absl::StatusOr<GoalView> GoalsService::ReturnGoal(const Caller& caller,
                                                  const std::string& id,
                                                  const std::string& etag,
                                                  const std::string& comment) {
  return Decide(caller, id, etag, comment, /*approve=*/false);
}

// A manager's decision on a goal waiting for approval: ACTIVE, or back to
// DRAFT with a comment saying why.
absl::StatusOr<GoalView> GoalsService::Decide(const Caller& caller,
                                              const std::string& id,
                                              const std::string& etag,
                                              const std::string& comment,
                                              bool approve) {
  if (comment.size() > 1000)
    return status::InvalidField("comment", "at most 1000 characters");
  if (!approve && comment.empty()) {
    return status::InvalidField("comment",
                                "say why the goal goes back to its owner");
  }
  auto current = repo_->GetGoal(id);
  if (!current.ok()) return current.status();
  if (!CanRead(caller, *current, *org_)) return NotFoundGoal(id);
  if (!CanApprove(caller, *current, *org_)) {
    return absl::PermissionDeniedError(
        "only a manager of the goal's owner may decide on it");
  }
  if (auto st = CheckEtag(etag, Etag(*current)); !st.ok()) return st;
  if (current->state != GoalState::kPendingApproval) {
    return absl::FailedPreconditionError(
        "the goal is not waiting for approval");
  }
  // The people service has the last word on who manages whom.
  auto chain = org_->FreshManagementChain(AccountablePerson(*org_, *current));
  if (!chain.ok()) return chain.status();
  if (!Contains(*chain, caller.person_id)) {
    return absl::PermissionDeniedError(
        "only a manager of the goal's owner may decide on it");
  }
  Goal result;
  int64_t now = NowMicros();
  auto st = repo_->Write("goals.decide", [&](GoalTx& tx) -> absl::Status {
    auto fresh = tx.LoadGoal(id);
    if (!fresh.ok()) return fresh.status();
    if (fresh->revision != current->revision) {
      return absl::AbortedError(
          "etag: the goal changed meanwhile; read it again");
    }
    if (auto s = CheckWritable(*fresh, tx); !s.ok()) return s;
    Goal next = *fresh;
    next.state = approve ? GoalState::kActive : GoalState::kDraft;
    next.approval_comment = comment;
    if (approve) next.activate_time = now;
    if (auto s = MoveContribution(tx, *fresh, next, now); !s.ok()) return s;
    if (auto s = Record(
            tx, next, Actor(caller), comment, absl::StrCat("goals/", id),
            approve ? "APPROVE" : "RETURN", DiffGoals(*fresh, next), now);
        !s.ok()) {
      return s;
    }
    result = next;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return View(result);
}

// ---- key results
// ---------------------------------------------------------------

absl::StatusOr<KeyResult> GoalsService::CreateKeyResult(
    const Caller& caller, const std::string& goal_id, KeyResult kr,
    const std::string& reason, const Idempotency& idem) {
  if (auto prior = Retried(idem); !prior.ok()) {
    return prior.status();
  } else if (prior->has_value()) {
    auto krs = repo_->ListKeyResults(goal_id);
    if (!krs.ok()) return krs.status();
    for (const auto& k : *krs) {
      if (k.id == **prior) return k;
    }
    return absl::NotFoundError("that key result was deleted since");
  }
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  if (!CanEdit(caller, *goal, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner and the owner's managers may add key results");
  }
  ApplyKeyResultDefaults(&kr);
  if (auto st = ValidateKeyResult(kr, "key_result"); !st.ok()) return st;
  if (auto st = ValidateReason(reason, false); !st.ok()) return st;
  kr.id = storage::NewId();
  kr.goal_id = goal_id;
  KeyResult result;
  int64_t now = NowMicros();
  auto st = repo_->Write("key_results.create", [&](GoalTx& tx) -> absl::Status {
    auto prior = ClaimRequest(tx, idem, kr.id);
    if (!prior.ok()) return prior.status();
    if (prior->has_value()) {
      auto krs = tx.LoadKeyResults(goal_id);
      if (!krs.ok()) return krs.status();
      for (const auto& k : *krs) {
        if (k.id == **prior) result = k;
      }
      if (result.id.empty())
        return absl::NotFoundError("that key result was deleted since");
      return absl::OkStatus();
    }
    auto fresh = tx.LoadGoal(goal_id);
    if (!fresh.ok()) return fresh.status();
    if (auto s = CheckWritable(*fresh, tx); !s.ok()) return s;
    auto existing = tx.LoadKeyResults(goal_id);
    if (!existing.ok()) return existing.status();
    if (existing->size() >= static_cast<size_t>(kMaxKeyResults)) {
      return absl::FailedPreconditionError(
          absl::StrCat("a goal has at most ", kMaxKeyResults, " key results"));
    }
    kr.revision = 1;
    kr.create_time = kr.update_time = now;
    if (auto s = tx.PutKeyResult(kr, /*insert=*/true); !s.ok()) return s;
    Goal next = *fresh;
    ApplyKrDelta(&next, Contribution{}, KeyResultContribution(kr));
    if (auto s = MoveContribution(tx, *fresh, next, now); !s.ok()) return s;
    std::vector<FieldChange> changes = DiffKeyResults(KeyResult{}, kr);
    if (auto s = Record(tx, next, Actor(caller), reason,
                        absl::StrCat("goals/", goal_id, "/keyResults/", kr.id),
                        "CREATE", std::move(changes), now);
        !s.ok()) {
      return s;
    }
    result = kr;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return result;
}

absl::StatusOr<GoalsService::GoalAndKeyResult>
GoalsService::LoadKeyResultToChange(GoalTx& tx, const std::string& goal_id,
                                    const std::string& kr_id,
                                    const std::string& etag) {
  auto goal = tx.LoadGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (auto s = CheckWritable(*goal, tx); !s.ok()) return s;
  auto krs = tx.LoadKeyResults(goal_id);
  if (!krs.ok()) return krs.status();
  auto it = std::find_if(krs->begin(), krs->end(),
                         [&](const KeyResult& k) { return k.id == kr_id; });
  if (it == krs->end()) {
    return absl::NotFoundError(absl::StrCat("goals/", goal_id, "/keyResults/",
                                            kr_id, " does not exist"));
  }
  if (auto s = CheckEtag(etag, Etag(*it)); !s.ok()) return s;
  return GoalAndKeyResult{std::move(*goal), std::move(*it)};
}

absl::StatusOr<KeyResult> GoalsService::UpdateKeyResult(
    const Caller& caller, const std::string& goal_id, const std::string& kr_id,
    const KeyResult& patch, const std::vector<std::string>& mask,
    const std::string& etag, const std::string& reason) {
  if (auto st = CheckMask(mask, KeyResultMaskFields()); !st.ok()) return st;
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  if (!CanEdit(caller, *goal, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner and the owner's managers may edit key results");
  }
  KeyResult result;
  int64_t now = NowMicros();
  auto st = repo_->Write("key_results.update", [&](GoalTx& tx) -> absl::Status {
    auto loaded = LoadKeyResultToChange(tx, goal_id, kr_id, etag);
    if (!loaded.ok()) return loaded.status();
    const Goal* fresh = &loaded->goal;
    const KeyResult* before = &loaded->key_result;
    KeyResult after = *before;
    ApplyKeyResultMask(patch, mask, &after);
    if (auto s = ValidateKeyResult(after, "key_result"); !s.ok()) return s;
    auto changes = DiffKeyResults(*before, after);
    if (changes.empty()) {
      result = *before;
      return absl::OkStatus();
    }
    if (auto s = ValidateReason(reason, KeyResultChangesNeedReason(changes));
        !s.ok())
      return s;
    after.revision += 1;
    after.update_time = now;
    if (auto s = tx.PutKeyResult(after, /*insert=*/false); !s.ok()) return s;
    Goal next = *fresh;
    ApplyKrDelta(&next, KeyResultContribution(*before),
                 KeyResultContribution(after));
    if (auto s = MoveContribution(tx, *fresh, next, now); !s.ok()) return s;
    if (auto s = Record(tx, next, Actor(caller), reason,
                        absl::StrCat("goals/", goal_id, "/keyResults/", kr_id),
                        "UPDATE", std::move(changes), now);
        !s.ok()) {
      return s;
    }
    result = after;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return result;
}

absl::Status GoalsService::DeleteKeyResult(const Caller& caller,
                                           const std::string& goal_id,
                                           const std::string& kr_id,
                                           const std::string& etag,
                                           const std::string& reason) {
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  if (!CanEdit(caller, *goal, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner and the owner's managers may remove key results");
  }
  // Dropping a success criterion is a recalibration: it needs a reason.
  if (auto st = ValidateReason(reason, true); !st.ok()) return st;
  int64_t now = NowMicros();
  return repo_->Write("key_results.delete", [&](GoalTx& tx) -> absl::Status {
    auto loaded = LoadKeyResultToChange(tx, goal_id, kr_id, etag);
    if (!loaded.ok()) return loaded.status();
    const Goal* fresh = &loaded->goal;
    const KeyResult* before = &loaded->key_result;
    if (auto s = tx.DeleteKeyResult(*before); !s.ok()) return s;
    Goal next = *fresh;
    ApplyKrDelta(&next, KeyResultContribution(*before), Contribution{});
    if (auto s = MoveContribution(tx, *fresh, next, now); !s.ok()) return s;
    return Record(tx, next, Actor(caller), reason,
                  absl::StrCat("goals/", goal_id, "/keyResults/", kr_id),
                  "DELETE", DiffKeyResults(*before, KeyResult{}), now);
  });
}

absl::StatusOr<std::vector<KeyResult>> GoalsService::ListKeyResults(
    const Caller& caller, const std::string& goal_id) {
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  return repo_->ListKeyResults(goal_id);
}

// ---- check-ins
// ----------------------------------------------------------------------

absl::StatusOr<CheckIn> GoalsService::CreateCheckIn(const Caller& caller,
                                                    const std::string& goal_id,
                                                    CheckIn c,
                                                    const Idempotency& idem) {
  if (auto prior = Retried(idem); !prior.ok()) {
    return prior.status();
  } else if (prior->has_value()) {
    return repo_->GetCheckIn(**prior);
  }
  status::FieldErrors errors;
  if (!std::isfinite(c.confidence) || c.confidence < 0 || c.confidence > 1) {
    errors.Add("check_in.confidence", "must be within 0.0..1.0");
  }
  if (static_cast<int>(c.status) < 0 || static_cast<int>(c.status) > 3) {
    errors.Add("check_in.status", "must be ON_TRACK, AT_RISK or OFF_TRACK");
  }
  if (c.note.size() > 4000)
    errors.Add("check_in.note", "at most 4000 characters");
  std::set<std::string> seen;
  for (size_t i = 0; i < c.values.size(); ++i) {
    if (!std::isfinite(c.values[i].value)) {
      errors.Add(absl::StrCat("check_in.values[", i, "].value"),
                 "must be a finite number");
    }
    if (!seen.insert(c.values[i].key_result_id).second) {
      errors.Add(absl::StrCat("check_in.values[", i, "].key_result"),
                 "appears twice");
    }
  }
  if (!errors.empty()) return errors.Build();
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  if (!CanCheckIn(caller, *goal, *org_)) {
    return absl::PermissionDeniedError(
        "only the owner, contributors and the owner's managers may check in");
  }
  if (goal->state != GoalState::kActive) {
    return status::WithErrorInfo(
        absl::FailedPreconditionError("check-ins are for ACTIVE goals"),
        "GOAL_NOT_ACTIVE");
  }
  c.id = storage::NewId();
  c.goal_id = goal_id;
  c.author_id = caller.person_id;
  CheckIn result;
  int64_t now = NowMicros();
  auto st = repo_->Write("check_ins.create", [&](GoalTx& tx) -> absl::Status {
    auto prior = ClaimRequest(tx, idem, c.id);
    if (!prior.ok()) return prior.status();
    if (prior->has_value()) {
      auto found = tx.LoadCheckIn(**prior);
      if (!found.ok()) return found.status();
      result = *found;
      return absl::OkStatus();
    }
    auto fresh = tx.LoadGoal(goal_id);
    if (!fresh.ok()) return fresh.status();
    if (fresh->state != GoalState::kActive) {
      return absl::FailedPreconditionError("check-ins are for ACTIVE goals");
    }
    if (auto s = CheckWritable(*fresh, tx); !s.ok()) return s;
    auto krs = tx.LoadKeyResults(goal_id);
    if (!krs.ok()) return krs.status();
    Goal next = *fresh;
    std::vector<FieldChange> changes;
    for (size_t i = 0; i < c.values.size(); ++i) {
      auto it = std::find_if(krs->begin(), krs->end(), [&](const KeyResult& k) {
        return k.id == c.values[i].key_result_id;
      });
      if (it == krs->end()) {
        return status::InvalidField(
            absl::StrCat("check_in.values[", i, "].key_result"),
            "is not a key result of this goal");
      }
      KeyResult after = *it;
      after.current = c.values[i].value;
      if (after.current == it->current) continue;
      changes.push_back({absl::StrCat("keyResults/", it->id, ".current"),
                         absl::StrFormat("%g", it->current),
                         absl::StrFormat("%g", after.current)});
      after.revision += 1;
      after.update_time = now;
      if (auto s = tx.PutKeyResult(after, /*insert=*/false); !s.ok()) return s;
      ApplyKrDelta(&next, KeyResultContribution(*it),
                   KeyResultContribution(after));
      *it = after;
    }
    if (c.status != Health::kUnspecified) next.last_check_in_status = c.status;
    next.last_check_in_time = now;
    c.create_time = now;
    c.progress = next.progress;
    if (auto s = tx.InsertCheckIn(c); !s.ok()) return s;
    if (auto s = MoveContribution(tx, *fresh, next, now); !s.ok()) return s;
    if (auto s = Record(tx, next, Actor(caller), c.note,
                        absl::StrCat("goals/", goal_id), "CHECK_IN",
                        std::move(changes), now);
        !s.ok()) {
      return s;
    }
    result = c;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (options_.on_check_in && result.id == c.id)
    options_.on_check_in(goal->cycle_id);
  return result;
}

absl::StatusOr<std::vector<CheckIn>> GoalsService::ListCheckIns(
    const Caller& caller, const std::string& goal_id, const Page& page) {
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  return repo_->ListCheckIns(goal_id, page);
}

absl::StatusOr<std::vector<DueItem>> GoalsService::ListDueCheckIns(
    const Caller& caller, const std::string& person_id,
    const std::string& manager_id, int cadence_days, const Page& page,
    std::string* next_cursor) {
  if (page.limit <= 0) return std::vector<DueItem>();
  next_cursor->clear();
  if (cadence_days < 0 || cadence_days > 366) {
    return status::InvalidField("cadence_days", "must be within 0..366");
  }
  if (cadence_days == 0) cadence_days = options_.due_cadence_days;
  const std::string& subject = person_id.empty() ? manager_id : person_id;
  bool allowed = caller.hr_admin || caller.service ||
                 caller.person_id == subject ||
                 IsInChain(*org_, caller.person_id, subject);
  if (!allowed) {
    return absl::PermissionDeniedError(
        "due check-ins are for the person, their managers and hr_admin");
  }
  std::vector<std::string> people;
  if (!person_id.empty()) {
    people.push_back(person_id);
  } else {
    people = org_->Reports(manager_id, /*all_levels=*/true);
  }
  auto rows = repo_->RowsOfPeople(people);
  if (!rows.ok()) return rows.status();
  std::sort(rows->begin(), rows->end(),
            [](const GoalRow& a, const GoalRow& b) { return a.id < b.id; });
  int64_t now = NowMicros();
  int64_t cadence = int64_t{cadence_days} * 86400 * 1000000;
  std::vector<DueItem> out;
  for (const auto& r : *rows) {
    if (r.id <= page.after || r.state != GoalState::kActive) continue;
    int64_t since = std::max(r.last_check_in_time, r.activate_time);
    if (now - since < cadence) continue;
    Goal light = GoalFromRow(r);
    if (!CanRead(caller, light, *org_)) continue;
    if (static_cast<int>(out.size()) == page.limit) {
      *next_cursor = out.back().goal.goal.id;
      break;
    }
    auto full = repo_->GetGoal(r.id);
    if (!full.ok()) continue;  // deleted meanwhile
    out.push_back({View(*full), static_cast<int>((now - since) /
                                                 (int64_t{86400} * 1000000))});
  }
  return out;
}

absl::StatusOr<std::vector<Revision>> GoalsService::ListRevisions(
    const Caller& caller, const std::string& goal_id, const Page& page) {
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  return repo_->ListRevisions(goal_id, page);
}

// ---- trees
// ---------------------------------------------------------------------------

absl::StatusOr<std::vector<TreeNode>> GoalsService::AlignmentTree(
    const Caller& caller, const TreeRoot& root, int depth) {
  if (depth < 0 || depth > kMaxDepth)
    return status::InvalidField("depth", "must be within 0..64");
  std::string cycle_id = root.cycle_id;
  if (root.kind == TreeRoot::Kind::kGoal) {
    auto g = repo_->GetGoal(root.id);
    if (!g.ok()) return g.status();
    if (!CanRead(caller, *g, *org_)) return NotFoundGoal(root.id);
    cycle_id = g->cycle_id;
  }
  auto cycle = CachedCycle(cycle_id);
  if (!cycle.ok()) {
    if (cycle.status().code() == absl::StatusCode::kNotFound &&
        root.kind != TreeRoot::Kind::kGoal) {
      return status::InvalidField(
          "cycle", absl::StrCat("cycles/", cycle_id, " does not exist"));
    }
    return cycle.status();
  }
  const absl::Time now = clock_();
  std::vector<TreeNode> out;
  auto st = index_.Read(cycle_id, [&](const CycleGoals& goals) {
    // Roots, sorted by id; a root below another root is shown under it, once.
    std::vector<GoalPtr> roots;
    if (root.kind == TreeRoot::Kind::kGoal) {
      if (GoalPtr g = goals.Find(root.id)) roots.push_back(std::move(g));
    } else {
      goals.ForEach([&](const GoalPtr& g) {
        bool is_root = false;
        switch (root.kind) {
          case TreeRoot::Kind::kCompany:
            is_root = g->parent_id.empty() && g->level == Level::kCompany;
            break;
          case TreeRoot::Kind::kTeam:
            is_root = g->owner.team_id == root.id;
            break;
          case TreeRoot::Kind::kPerson:
            is_root = g->owner.person_id == root.id;
            break;
          default:
            break;
        }
        if (is_root) roots.push_back(g);
      });
      absl::flat_hash_set<std::string> root_ids;
      for (const auto& g : roots) root_ids.insert(g->id);
      std::erase_if(roots, [&](const GoalPtr& g) {
        GoalPtr up = goals.Find(g->parent_id);
        for (int d = 0; up != nullptr && d < kMaxDepth; ++d) {
          if (root_ids.contains(up->id)) return true;
          up = goals.Find(up->parent_id);
        }
        return false;
      });
      std::sort(
          roots.begin(), roots.end(),
          [](const GoalPtr& a, const GoalPtr& b) { return a->id < b->id; });
    }
    // Expected progress depends only on the window: computed once per window.
    absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, double>
        expected;
    auto emit = [&](const GoalPtr& g, int d) {
      TreeNode n;
      n.id = g->id;
      n.parent_id = g->parent_id;
      n.depth = d;
      n.restricted = !CanRead(caller, *g, *org_);
      if (!n.restricted) {
        if (HasHealth(g->state)) {
          absl::string_view s = g->start_date.empty()
                                    ? absl::string_view(cycle->start_date)
                                    : absl::string_view(g->start_date);
          absl::string_view e = g->due_date.empty()
                                    ? absl::string_view(cycle->end_date)
                                    : absl::string_view(g->due_date);
          auto [it, fresh] = expected.try_emplace({s, e}, 0.0);
          if (fresh) {
            it->second = ExpectedProgress(s, e, now);
          }
          n.expected_progress = it->second;
          n.health = HealthOf(g->progress, n.expected_progress,
                              g->last_check_in_status);
        }
        n.goal = g;
      }
      out.push_back(std::move(n));
    };
    // Level by level: parents before their children, siblings by id.
    std::vector<std::pair<GoalPtr, int>> level;
    for (auto& g : roots) level.push_back({std::move(g), 0});
    absl::flat_hash_set<std::string> visited;
    while (!level.empty()) {
      std::vector<std::pair<GoalPtr, int>> next;
      for (const auto& [g, d] : level) {
        if (!visited.insert(g->id).second) continue;
        emit(g, d);
        if (depth != 0 && d >= depth) continue;
        for (const auto& c : goals.Children(g->id)) next.push_back({c, d + 1});
      }
      level = std::move(next);
    }
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<TreeNode>> GoalsService::Lineage(
    const Caller& caller, const std::string& goal_id) {
  auto first = repo_->GetGoal(goal_id);
  if (!first.ok()) return first.status();
  if (!CanRead(caller, *first, *org_)) return NotFoundGoal(goal_id);
  std::vector<TreeNode> out;
  std::string next = goal_id;
  for (int d = 0; !next.empty() && d < kMaxDepth; ++d) {
    auto peeked = repo_->PeekGoal(next);
    absl::StatusOr<Goal> g = peeked != nullptr
                                 ? absl::StatusOr<Goal>(peeked->value())
                                 : repo_->GetGoal(next);
    if (!g.ok()) break;
    TreeNode n;
    n.id = g->id;
    n.parent_id = g->parent_id;
    n.depth = -d;
    n.restricted = !CanRead(caller, *g, *org_);
    if (!n.restricted) {
      GoalView v = View(*g);
      n.goal = std::make_shared<const Goal>(*g);
      n.expected_progress = v.expected_progress;
      n.health = v.health;
    }
    out.push_back(std::move(n));
    next = g->parent_id;
  }
  return out;
}

absl::StatusOr<Goal> GoalsService::GoalForWatch(const std::string& goal_id) {
  if (auto g = repo_->PeekGoal(goal_id); g != nullptr) return g->value();
  return repo_->GetGoal(goal_id);
}

absl::StatusOr<GoalsService::CensusResult> GoalsService::TakeCensus() {
  auto rows = repo_->LiveRows();
  if (!rows.ok()) return rows.status();
  std::map<std::tuple<std::string, int, int>, int> counts;
  CensusResult out;
  int64_t now = NowMicros();
  int64_t cadence = int64_t{options_.due_cadence_days} * 86400 * 1000000;
  for (const auto& r : *rows) {
    Health h = Health::kUnspecified;
    if (r.state == GoalState::kActive) {
      h = HealthOf(r.progress, Expected(r.cycle_id, r.start_date, r.due_date),
                   r.last_check_in_status);
      if (now - std::max(r.last_check_in_time, r.activate_time) >= cadence) {
        ++out.due_by_cycle[r.cycle_id];
      }
    }
    ++counts[{r.cycle_id, static_cast<int>(r.state), static_cast<int>(h)}];
  }
  for (const auto& [k, n] : counts) {
    out.counts.push_back({std::get<0>(k),
                          static_cast<GoalState>(std::get<1>(k)),
                          static_cast<Health>(std::get<2>(k)), n});
  }
  return out;
}

}  // namespace sightline::goals
