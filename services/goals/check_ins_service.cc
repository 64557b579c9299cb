// GoalsService: check-ins, due check-ins and revision history.

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/goals/goals_service.h"
#include "services/goals/rules.h"
#include "services/goals/service_internal.h"

namespace sightline::goals {

using internal::NotFoundGoal;

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
  // Row locks rather than SERIALIZABLE: every goal this reads to write back
  // (the goal, then each ancestor the roll-up moves) is locked first; see
  // docs/changelog-postgres.md.
  auto st = repo_->WriteWithRowLocks(
      "check_ins.create", [&](GoalTx& tx) -> absl::Status {
        if (auto s = tx.LockPath(goal_id); !s.ok()) return s;
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
          return absl::FailedPreconditionError(
              "check-ins are for ACTIVE goals");
        }
        if (auto s = CheckWritable(*fresh, tx); !s.ok()) return s;
        if (auto s = WriteCheckIn(tx, *fresh, c, Actor(caller), now); !s.ok())
          return s;
        result = c;
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  if (options_.on_check_in && result.id == c.id)
    options_.on_check_in(goal->cycle_id);
  return result;
}

// The check-in path every check-in takes (people's and the system's): key
// result values, the goal's progress rolled up to the root, history.
absl::Status GoalsService::WriteCheckIn(GoalTx& tx, const Goal& fresh,
                                        CheckIn& c, const std::string& actor,
                                        int64_t now) {
  auto krs = tx.LoadKeyResults(fresh.id);
  if (!krs.ok()) return krs.status();
  Goal next = fresh;
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
  if (auto s = MoveContribution(tx, fresh, next, now); !s.ok()) return s;
  if (auto s = Record(tx, next, actor, c.note, absl::StrCat("goals/", fresh.id),
                      "CHECK_IN", std::move(changes), now);
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CheckIn>> GoalsService::ListCheckIns(
    const Caller& caller, const std::string& goal_id, const Page& page) {
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  // Check-ins are read under the visibility the goal had when they were
  // written, as revisions are (ListRevisions).
  auto history = ReadableHistory(caller, goal_id);
  if (!history.ok()) return history.status();
  const bool all = std::all_of(history->begin(), history->end(),
                               [](const auto& h) { return h.readable; });
  if (all) return repo_->ListCheckIns(goal_id, page);
  std::vector<CheckIn> out;
  if (page.limit <= 0) return out;
  Page next{page.after, std::max(page.limit, 100)};
  while (true) {
    auto batch = repo_->ListCheckIns(goal_id, next);
    if (!batch.ok()) return batch.status();
    for (const auto& c : *batch) {
      if (!ReadableAt(*history, c.create_time)) continue;
      out.push_back(c);
      if (out.size() >= static_cast<size_t>(page.limit)) return out;
    }
    if (batch->size() < static_cast<size_t>(next.limit)) return out;
    next.after = absl::StrCat(batch->back().create_time, "/", batch->back().id);
  }
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

absl::StatusOr<std::vector<GoalsService::ReadableRevision>>
GoalsService::ReadableHistory(const Caller& caller,
                              const std::string& goal_id) {
  std::vector<ReadableRevision> out;
  Page page{"", 1000};
  while (true) {
    auto batch = repo_->ListRevisions(goal_id, page);
    if (!batch.ok()) return batch.status();
    for (auto& r : *batch) {
      // A record without a snapshot (none is written so) counts as unreadable
      // for all but those who read everything of the goal now.
      const bool readable = r.then.has_value()
                                ? CanRead(caller, *r.then, *org_)
                                : caller.service || caller.hr_admin;
      out.push_back({std::move(r), readable});
    }
    if (batch->size() < static_cast<size_t>(page.limit)) return out;
    page.after = absl::StrCat(out.back().revision.revision);
  }
}

absl::StatusOr<std::vector<Revision>> GoalsService::ListRevisions(
    const Caller& caller, const std::string& goal_id, const Page& page) {
  auto goal = repo_->GetGoal(goal_id);
  if (!goal.ok()) return goal.status();
  if (!CanRead(caller, *goal, *org_)) return NotFoundGoal(goal_id);
  int64_t after = 0;
  if (!page.after.empty() && !absl::SimpleAtoi(page.after, &after))
    return absl::InvalidArgumentError("page_token: malformed");
  // A revision is read under the visibility the goal had when it was written:
  // what was written while the goal was PRIVATE stays with those who could
  // read it then, after the goal is made TEAM or PUBLIC; and the revision that
  // made it readable shows its new values only, not the private ones it
  // replaced. Hidden revisions are skipped and the page filled from the ones
  // after them, so that a page is short only at the end (the handler tells
  // the last page by its length).
  auto history = ReadableHistory(caller, goal_id);
  if (!history.ok()) return history.status();
  std::vector<Revision> out;
  for (size_t i = 0; i < history->size(); ++i) {
    if (out.size() >= static_cast<size_t>(std::max(page.limit, 0))) break;
    const ReadableRevision& h = (*history)[i];
    if (h.revision.revision <= after || !h.readable) continue;
    out.push_back(h.revision);
    if (i > 0 && !(*history)[i - 1].readable) {
      for (auto& change : out.back().changes) change.old_value.clear();
    }
  }
  return out;
}

bool GoalsService::ReadableAt(const std::vector<ReadableRevision>& history,
                              int64_t time) {
  // The goal as it stood at `time`: after the last revision written then or
  // before (a check-in and its revision share their time).
  auto it = std::upper_bound(
      history.begin(), history.end(), time,
      [](int64_t t, const ReadableRevision& r) { return t < r.revision.time; });
  if (it == history.begin()) return !history.empty() && history[0].readable;
  return std::prev(it)->readable;
}

}  // namespace sightline::goals
