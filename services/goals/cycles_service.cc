// GoalsService: cycles.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/goals/goals_service.h"
#include "services/goals/rules.h"
#include "services/goals/service_internal.h"

namespace sightline::goals {

using internal::CheckEtag;

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

}  // namespace sightline::goals
