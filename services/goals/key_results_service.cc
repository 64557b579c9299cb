// GoalsService: key results.

#include <algorithm>
#include <set>
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
using internal::CheckMask;
using internal::kMaxKeyResults;
using internal::NotFoundGoal;

namespace {

const std::set<std::string>& KeyResultMaskFields() {
  static const auto* f = new std::set<std::string>{
      "title",  "measure",        "currency_code", "direction", "baseline",
      "target", "stretch_target", "current",       "unit",      "weight",
      "kpi"};
  return *f;
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

}  // namespace

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
  if (!kr.kpi.empty()) {
    if (auto st = CheckKpiLinks({*goal}, {kr}, "key_result"); !st.ok())
      return st;
  }
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
  // A new link is checked with the metrics service (outside the
  // transaction); keeping or clearing one needs no check.
  if (std::find(mask.begin(), mask.end(), "kpi") != mask.end() &&
      !patch.kpi.empty()) {
    auto krs = repo_->ListKeyResults(goal_id);
    if (!krs.ok()) return krs.status();
    auto it = std::find_if(krs->begin(), krs->end(),
                           [&](const KeyResult& k) { return k.id == kr_id; });
    // A malformed name is left to the validation in the transaction.
    if (it != krs->end() && it->kpi != patch.kpi && IsKpiName(patch.kpi)) {
      if (auto st = CheckKpiLinks({*goal}, {patch}, "key_result"); !st.ok())
        return st;
    }
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

}  // namespace sightline::goals
