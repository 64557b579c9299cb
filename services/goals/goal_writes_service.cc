// GoalsService: creating, changing, deleting and approving goals.

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/goals/goals_service.h"
#include "services/goals/rules.h"
#include "services/goals/service_internal.h"

namespace sightline::goals {

using internal::CheckEtag;
using internal::CheckMask;
using internal::Contains;
using internal::kMaxDepth;
using internal::kMaxKeyResults;
using internal::NotFoundGoal;

namespace {

constexpr int kMaxBatch = 1000;

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

const std::set<std::string>& GoalMaskFields() {
  static const auto* f = new std::set<std::string>{
      "title",        "description", "owner",      "contributors",
      "stakeholders", "level",       "cycle",      "start_date",
      "due_date",     "parent",      "weight",     "progress_source",
      "kind",         "hypothesis",  "visibility", "state",
      "tags"};
  return *f;
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

bool Masked(const std::vector<std::string>& mask, absl::string_view field) {
  return std::find(mask.begin(), mask.end(), field) != mask.end();
}

}  // namespace

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
  if (auto st = CheckKpiLinks({goal}, key_results, "key_results"); !st.ok())
    return st;
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
  if (auto st = CheckKpiLinks(goals, key_results, "key_results"); !st.ok())
    return st;
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
      std::optional<Parent> parent;
      if (!updated.parent_id.empty()) {
        auto p = LoadParent(tx, caller, updated.parent_id, /*aligning=*/moved);
        if (!p.ok()) return p.status();
        parent = std::move(*p);
        // A parent that was cancelled later still holds its existing children.
        if (!moved) parent->goal.state = GoalState::kActive;
      }
      if (auto s = CheckAlignment(
              updated, *cycle, parent ? &parent->goal : nullptr,
              parent ? &parent->cycle : nullptr,
              parent ? parent->ancestors : std::vector<std::string>{});
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

}  // namespace sightline::goals
