#pragma once

// Progress maths of the goals service: a key result's progress, the
// incremental roll-up of key results and children into a goal, the expected
// progress of a window, health, scores and outcomes. Pure functions; no input,
// however broken (NaN, infinities), yields NaN.

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/goals/model.h"

namespace sightline::goals {

// A strict YYYY-MM-DD calendar day (years 0001..9999, real month lengths and
// leap years); nullopt for anything else, including surrounding spaces.
std::optional<absl::CivilDay> ParseDate(absl::string_view date);

// A key result's raw progress; may exceed 1 (a stretch) or fall below 0.
//   INCREASE    (current - baseline) / (target - baseline)
//   DECREASE    (baseline - current) / (baseline - target)
//   STAY_ABOVE  1 if current >= target, else 0
//   STAY_BELOW  1 if current <= target, else 0
//   BOOLEAN and MILESTONE measures: 1 if current >= 1 (done), else 0, whatever
//   the direction.
// With target == baseline, INCREASE and DECREASE are 1 once the target is
// reached and 0 before. Non-finite inputs, or a non-finite result (overflow),
// give 0.
double KeyResultProgress(const KeyResult& kr);

// [0, 1]; NaN gives 0, +inf 1.
double Clamp01(double v);

// A goal's progress from its roll-up sums (see Goal::kr_weight and friends):
//   KEY_RESULTS  kr_weighted / kr_weight
//   CHILDREN     child_weighted / child_weight
//   BOTH         (kr_weighted + child_weighted) / (kr_weight + child_weight)
// 0 when the denominator is 0; always clamped to [0, 1].
double GoalProgress(ProgressSource source, double kr_weight, double kr_weighted,
                    double child_weight, double child_weighted);

// Whether a goal in this state counts towards its parent's progress: every
// state but CANCELLED and ARCHIVED (a DRAFT child counts, at its progress).
bool CountsInParent(GoalState state);

// What one key result or one child adds to a goal's roll-up sums.
struct Contribution {
  double weight = 0;
  double weighted = 0;
  bool operator==(const Contribution&) const = default;
};

// {weight, weight * Clamp01(KeyResultProgress)}; zero for a weight that is not
// finite and positive.
Contribution KeyResultContribution(const KeyResult& kr);

// {weight, weight * progress} of a child that counts in its parent
// (CountsInParent), zero otherwise.
Contribution ChildContribution(const Goal& child);

// Replaces one item's contribution `before` with `after` in the goal's sums
// and recomputes goal->progress. Adding an item is {} -> c, removing it
// c -> {}. Against float drift: a weight sum that drops below 1e-9 is reset to
// 0 with its weighted sum; a weighted sum stays within [0, weight sum].
void ApplyKrDelta(Goal* goal, Contribution before, Contribution after);
void ApplyChildDelta(Goal* goal, Contribution before, Contribution after);

// goal->progress from the goal's current sums and progress source.
void RecomputeProgress(Goal* goal);

// The elapsed share of the window from start_date 00:00 UTC to the end of
// due_date (24:00 UTC), in [0, 1]: 0 before the window, 1 after it. 0 when a
// date is empty or invalid, or the window is empty (due before start).
double ExpectedProgress(absl::string_view start_date,
                        absl::string_view due_date, absl::Time now);

// Thresholds for health and outcomes.
struct HealthPolicy {
  // Behind the expected progress by at most this much: ON_TRACK.
  double at_risk_gap = 0.10;
  // Behind by more than at_risk_gap and at most this much: AT_RISK; further
  // behind: OFF_TRACK.
  double off_track_gap = 0.25;
  // The score at which a STRETCH goal counts as achieved.
  double stretch_success = 0.7;
};

// gap = expected - progress: ON_TRACK if gap <= at_risk_gap, AT_RISK if
// gap <= off_track_gap, else OFF_TRACK (boundaries inclusive, with a 1e-9
// tolerance against float noise). The result is never better than the last
// check-in's own status (ON_TRACK < AT_RISK < OFF_TRACK in badness);
// Health::kUnspecified means there was no check-in. NaN inputs count as 0.
Health ComputeHealth(double progress, double expected,
                     Health last_check_in_status,
                     const HealthPolicy& policy = {});

// The score frozen when a cycle closes: the progress, clamped to [0, 1].
double Score(double progress);

// COMMITTED: ACHIEVED iff score >= 1; STRETCH: ACHIEVED iff
// score >= stretch_success (both with a 1e-9 tolerance), else MISSED;
// EXPERIMENT: CONCLUDED, whatever the score. kUnspecified for an invalid kind.
Outcome ComputeOutcome(Kind kind, double score,
                       const HealthPolicy& policy = {});

}  // namespace sightline::goals
