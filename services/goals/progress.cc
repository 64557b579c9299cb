#include "services/goals/progress.h"

#include <algorithm>
#include <cmath>

namespace sightline::goals {
namespace {

constexpr double kEpsilon = 1e-9;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int Digits(absl::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// The finite value, or 0.
double Finite(double v) { return std::isfinite(v) ? v : 0; }

// Keeps a pair of roll-up sums sane after an update.
void Settle(double* weight, double* weighted) {
  if (!std::isfinite(*weight) || *weight < kEpsilon) {
    *weight = 0;
    *weighted = 0;
    return;
  }
  if (!std::isfinite(*weighted) || *weighted < 0) *weighted = 0;
  if (*weighted > *weight) *weighted = *weight;
}

}  // namespace

std::optional<absl::CivilDay> ParseDate(absl::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') {
    return std::nullopt;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(date[i])) return std::nullopt;
  }
  const int y = Digits(date.substr(0, 4));
  const int m = Digits(date.substr(5, 2));
  const int d = Digits(date.substr(8, 2));
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) {
    return std::nullopt;
  }
  return absl::CivilDay(y, m, d);
}

double KeyResultProgress(const KeyResult& kr) {
  const double baseline = kr.baseline;
  const double target = kr.target;
  const double current = kr.current;
  if (!std::isfinite(baseline) || !std::isfinite(target) ||
      !std::isfinite(current)) {
    return 0;
  }
  if (kr.measure == Measure::kBoolean || kr.measure == Measure::kMilestone) {
    return current >= 1 ? 1 : 0;
  }
  double p = 0;
  switch (kr.direction) {
    case Direction::kIncrease:
      p = target == baseline ? (current >= target ? 1 : 0)
                             : (current - baseline) / (target - baseline);
      break;
    case Direction::kDecrease:
      p = target == baseline ? (current <= target ? 1 : 0)
                             : (baseline - current) / (baseline - target);
      break;
    case Direction::kStayAbove:
      p = current >= target ? 1 : 0;
      break;
    case Direction::kStayBelow:
      p = current <= target ? 1 : 0;
      break;
  }
  return Finite(p);
}

double Clamp01(double v) {
  if (std::isnan(v)) return 0;
  return std::clamp(v, 0.0, 1.0);
}

double GoalProgress(ProgressSource source, double kr_weight, double kr_weighted,
                    double child_weight, double child_weighted) {
  double num = 0;
  double den = 0;
  switch (source) {
    case ProgressSource::kKeyResults:
      num = kr_weighted;
      den = kr_weight;
      break;
    case ProgressSource::kChildren:
      num = child_weighted;
      den = child_weight;
      break;
    case ProgressSource::kBoth:
      num = kr_weighted + child_weighted;
      den = kr_weight + child_weight;
      break;
  }
  if (!std::isfinite(num) || !std::isfinite(den) || den <= 0) return 0;
  return Clamp01(num / den);
}

bool CountsInParent(GoalState state) {
  return state != GoalState::kCancelled && state != GoalState::kArchived;
}

Contribution KeyResultContribution(const KeyResult& kr) {
  if (!std::isfinite(kr.weight) || kr.weight <= 0) return {};
  return {kr.weight, kr.weight * Clamp01(KeyResultProgress(kr))};
}

Contribution ChildContribution(const Goal& child) {
  if (!CountsInParent(child.state)) return {};
  if (!std::isfinite(child.weight) || child.weight <= 0) return {};
  return {child.weight, child.weight * Clamp01(child.progress)};
}

void RecomputeProgress(Goal* goal) {
  goal->progress =
      GoalProgress(goal->progress_source, goal->kr_weight, goal->kr_weighted,
                   goal->child_weight, goal->child_weighted);
}

void ApplyKrDelta(Goal* goal, Contribution before, Contribution after) {
  goal->kr_weight += Finite(after.weight) - Finite(before.weight);
  goal->kr_weighted += Finite(after.weighted) - Finite(before.weighted);
  Settle(&goal->kr_weight, &goal->kr_weighted);
  RecomputeProgress(goal);
}

void ApplyChildDelta(Goal* goal, Contribution before, Contribution after) {
  goal->child_weight += Finite(after.weight) - Finite(before.weight);
  goal->child_weighted += Finite(after.weighted) - Finite(before.weighted);
  Settle(&goal->child_weight, &goal->child_weighted);
  RecomputeProgress(goal);
}

double ExpectedProgress(absl::string_view start_date,
                        absl::string_view due_date, absl::Time now) {
  const std::optional<absl::CivilDay> start = ParseDate(start_date);
  const std::optional<absl::CivilDay> due = ParseDate(due_date);
  if (!start.has_value() || !due.has_value()) return 0;
  // Days since the epoch, as UTC midnights (no time zone lookup: this runs
  // on every read of a goal).
  const absl::CivilDay epoch(1970, 1, 1);
  const absl::Time begin = absl::FromUnixSeconds((*start - epoch) * 86400);
  const absl::Time end = absl::FromUnixSeconds((*due + 1 - epoch) * 86400);
  if (end <= begin) return 0;
  if (now <= begin) return 0;
  if (now >= end) return 1;
  return Clamp01(absl::FDivDuration(now - begin, end - begin));
}

Health ComputeHealth(double progress, double expected,
                     Health last_check_in_status, const HealthPolicy& policy) {
  const double gap = Finite(expected) - Finite(progress);
  Health computed = Health::kOffTrack;
  if (gap <= policy.at_risk_gap + kEpsilon) {
    computed = Health::kOnTrack;
  } else if (gap <= policy.off_track_gap + kEpsilon) {
    computed = Health::kAtRisk;
  }
  switch (last_check_in_status) {
    case Health::kOnTrack:
    case Health::kAtRisk:
    case Health::kOffTrack:
      // The enum's numbering is the order of badness.
      return std::max(computed, last_check_in_status);
    case Health::kUnspecified:
      break;
  }
  return computed;
}

double Score(double progress) { return Clamp01(progress); }

Outcome ComputeOutcome(Kind kind, double score, const HealthPolicy& policy) {
  switch (kind) {
    case Kind::kCommitted:
      return score >= 1.0 - kEpsilon ? Outcome::kAchieved : Outcome::kMissed;
    case Kind::kStretch:
      return score >= policy.stretch_success - kEpsilon ? Outcome::kAchieved
                                                        : Outcome::kMissed;
    case Kind::kExperiment:
      return Outcome::kConcluded;
  }
  return Outcome::kUnspecified;
}

}  // namespace sightline::goals
