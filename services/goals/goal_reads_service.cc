// GoalsService: reading and listing goals.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "services/goals/goals_service.h"
#include "services/goals/rules.h"
#include "services/goals/service_internal.h"

namespace sightline::goals {

using internal::HasHealth;
using internal::NotFoundGoal;

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
  // Read under the visibility it had then (see ListRevisions).
  if (!CanRead(caller, (*snap)->goal, *org_)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "as_of: goals/", id, " was not visible to the caller at that time"));
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

}  // namespace sightline::goals
