#pragma once

// The goals service's rules: validation of cycles, goals and key results,
// alignment of a goal under its parent, goal state transitions, the reasons
// that recalibrations need, and the field diffs recorded in the history.
//
// Text lengths count Unicode code points of valid UTF-8. Field names are the
// API's ("goal.title", "key_results[3].target"), so that the handler can pass
// the statuses on unchanged: INVALID_ARGUMENT with one google.rpc.BadRequest
// violation per broken rule, all of them at once.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/goals/model.h"

namespace sightline::goals {

// Limits, as the rules below state them.
inline constexpr size_t kMaxCycleNameChars = 100;
inline constexpr size_t kMaxTitleChars = 200;
inline constexpr size_t kMaxDescriptionChars = 10000;
inline constexpr size_t kMaxHypothesisChars = 2000;
inline constexpr size_t kMaxTags = 20;
inline constexpr size_t kMaxTagChars = 50;
inline constexpr size_t kMaxContributors = 100;
inline constexpr size_t kMaxStakeholders = 100;
inline constexpr size_t kMaxCommentChars = 1000;
inline constexpr size_t kMaxReasonChars = 1000;
inline constexpr size_t kMaxUnitChars = 20;
inline constexpr size_t kMaxKpiChars = 200;
inline constexpr double kMaxWeight = 1000;

// The API's names of enum values ("ACTIVE", "KEY_RESULTS", "STAY_ABOVE"...);
// the enum's *_UNSPECIFIED name for a value outside the enum.
absl::string_view ApiName(CycleState v);
absl::string_view ApiName(Level v);
absl::string_view ApiName(Health v);
absl::string_view ApiName(ProgressSource v);
absl::string_view ApiName(Kind v);
absl::string_view ApiName(Visibility v);
absl::string_view ApiName(GoalState v);
absl::string_view ApiName(Outcome v);
absl::string_view ApiName(StakeholderRole v);
absl::string_view ApiName(Measure v);
absl::string_view ApiName(Direction v);

// Whether a value (perhaps cast from an API integer) is one of the enum's.
bool IsValid(Level v);
bool IsValid(ProgressSource v);
bool IsValid(Kind v);
bool IsValid(Visibility v);
bool IsValid(GoalState v);
bool IsValid(StakeholderRole v);
bool IsValid(Measure v);
bool IsValid(Direction v);

// ---------------------------------------------------------------- validation

// "cycle.display_name": 1..100 characters, no control characters;
// "cycle.start_date", "cycle.end_date": YYYY-MM-DD calendar days, start <= end
// (a one-day cycle is fine).
absl::Status ValidateCycle(const Cycle& cycle);

// A goal as it would be stored, fields named `<prefix>.<field>`:
//   title        1..200 characters, not blank, no control characters
//   description  at most 10000 characters; tabs and line breaks allowed, no
//                other control characters
//   owner        exactly one of a person and a team
//   cycle        required
//   level, kind, visibility, progress_source, state: values of their enums
//   weight       finite, > 0 and <= 1000
//   hypothesis   1..2000 characters for an EXPERIMENT (not blank); other kinds
//                may carry one of at most 2000
//   tags         at most 20; each ("tags[i]") 1..50 characters, not blank, no
//                control characters, no exact duplicate
//   contributors at most 100; each ("contributors[i]") set, distinct, not the
//                owner person
//   stakeholders at most 100; each ("stakeholders[i]") set, distinct, neither a
//                contributor nor the owner person (one role per person), a
//                valid role ("stakeholders[i].role")
//   start_date, due_date  YYYY-MM-DD calendar days when set; start <= due
//                (the violation names due_date)
//   approval_comment  at most 1000 characters
// Where the goal's window lies (cycle, parent) is CheckAlignment's business.
absl::Status ValidateGoal(const Goal& goal, absl::string_view prefix = "goal");

// A key result as it would be stored, fields named `<prefix>.<field>`:
//   title      1..200 characters, not blank, no control characters
//   measure, direction  values of their enums; a BOOLEAN or MILESTONE measure
//              accepts only INCREASE (ApplyKeyResultDefaults turns an
//              unspecified direction into INCREASE)
//   currency_code  three upper-case letters (ISO 4217 shape) for CURRENCY,
//              empty for other measures
//   baseline, target, current, stretch_target  finite
//   weight     finite, > 0 and <= 1000
//   target     INCREASE: > baseline; DECREASE: < baseline; BOOLEAN and
//              MILESTONE: baseline 0 and target 1
//   stretch_target  beyond target in the direction of progress (> target for
//              INCREASE and STAY_ABOVE, < target for DECREASE and STAY_BELOW);
//              none for BOOLEAN and MILESTONE
//   unit       at most 20 characters, no control characters
//   kpi        empty, or `kpis/{id}` with id [a-z0-9-]{1,63} (200 at most)
// `kpis/{id}` with id [a-z0-9-]{1,63}.
bool IsKpiName(absl::string_view kpi);

absl::Status ValidateKeyResult(const KeyResult& kr,
                               absl::string_view prefix = "key_result");

// Defaults for a key result being created from an API request whose enums
// and numbers were left unset: a BOOLEAN or MILESTONE measure with an
// unspecified (out of range) direction gets INCREASE, and with baseline and
// target both 0 gets target 1. Anything else is left for ValidateKeyResult.
void ApplyKeyResultDefaults(KeyResult* kr);

// ----------------------------------------------------------------- alignment

// The goal's window: its own dates, or its cycle's where unset.
struct Window {
  std::string start;
  std::string end;
};
Window GoalWindow(const Goal& goal, const Cycle& cycle);

// FAILED_PRECONDITION when `parent` is CANCELLED or ARCHIVED: such a goal
// takes no new children.
absl::Status CheckParentAcceptsChildren(const Goal& parent);

// Where `child` may sit. `parent` is the goal named by child.parent_id
// (nullptr when that is empty), `parent_cycle` its cycle,
// `parent_ancestor_ids` the parent's ancestors (any order).
//   - a COMPANY goal has no parent ("goal.parent"); other levels may have none;
//   - the goal cannot be its own ancestor: its id is neither the parent's nor
//     one of the parent's ancestors ("goal.parent"; skipped while the child
//     has no id yet);
//   - the child's own dates lie within its cycle ("goal.start_date",
//     "goal.due_date");
//   - the child's window (GoalWindow) lies within the parent's window: a
//     child's cycle lies within its parent's. The violation names the child's
//     date field when the child set that date, "goal.cycle" when the child's
//     window comes from its cycle;
// all INVALID_ARGUMENT, reported together. Then FAILED_PRECONDITION
// (CheckParentAcceptsChildren) for a CANCELLED or ARCHIVED parent: callers
// that re-check an existing link after an unrelated change may want to check
// the parent's state only when the parent changes.
// NOT_FOUND if child.parent_id is set but `parent` is nullptr; INTERNAL
// (a caller's bug) if `parent` is given without `parent_cycle` or is not the
// goal named by child.parent_id.
absl::Status CheckAlignment(
    const Goal& child, const Cycle& child_cycle, const Goal* parent,
    const Cycle* parent_cycle,
    const std::vector<std::string>& parent_ancestor_ids);

// --------------------------------------------------------------- transitions

// Allowed: DRAFT -> PENDING_APPROVAL, ACTIVE, CANCELLED;
// PENDING_APPROVAL -> ACTIVE (approved), DRAFT (returned);
// ACTIVE -> COMPLETED, CANCELLED; COMPLETED -> ACTIVE (reopened), ARCHIVED;
// CANCELLED -> ARCHIVED. Staying in the same state is OK (a no-op).
// Anything else: FAILED_PRECONDITION "cannot go from ARCHIVED to ACTIVE".
// INVALID_ARGUMENT "goal.state" if `to` is not a state at all.
absl::Status CheckTransition(GoalState from, GoalState to);

// ------------------------------------------------------------- recalibration

// Update-mask paths (relative to the resource) whose change needs a reason:
// start_date, due_date, parent, weight for goals; baseline, target,
// stretch_target, weight for key results.
bool GoalFieldNeedsReason(absl::string_view field);
bool KeyResultFieldNeedsReason(absl::string_view field);

// Whether any of these changes (from DiffGoals / DiffKeyResults) needs a
// reason: a mask that names a field without changing it needs none.
bool GoalChangesNeedReason(const std::vector<FieldChange>& changes);
bool KeyResultChangesNeedReason(const std::vector<FieldChange>& changes);

// "reason": when needed, 1..1000 characters and not blank, else
// INVALID_ARGUMENT "required when changing target, baseline, weight, parent or
// dates"; when not needed, at most 1000 characters. Tabs and line breaks are
// allowed, other control characters not.
absl::Status ValidateReason(absl::string_view reason, bool needed);

// ---------------------------------------------------------------- history

// One FieldChange per user-visible field that differs, in the API's field
// order, named as in the API. Values are readable strings: numbers with %g
// (more digits when %g would hide the difference), enums by API name,
// references as resource names (people/{id}, teams/{id}, goals/{id},
// cycles/{id}), lists comma-joined in their order (so a reordering is a
// change), stakeholders as `people/{id}:ROLE`, an unset stretch_target as "".
// Computed fields (roll-up sums, progress, score, health...) are not diffed.
std::vector<FieldChange> DiffGoals(const Goal& before, const Goal& after);
std::vector<FieldChange> DiffKeyResults(const KeyResult& before,
                                        const KeyResult& after);

}  // namespace sightline::goals
