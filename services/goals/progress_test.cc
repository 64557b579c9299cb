#include "services/goals/progress.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace sightline::goals {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

KeyResult Kr(Direction direction, double baseline, double target,
             double current, Measure measure = Measure::kNumber) {
  KeyResult kr;
  kr.measure = measure;
  kr.direction = direction;
  kr.baseline = baseline;
  kr.target = target;
  kr.current = current;
  return kr;
}

absl::Time At(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0),
                         absl::UTCTimeZone());
}

// ---------------------------------------------------------------- dates

TEST(ParseDateTest, AcceptsRealCalendarDays) {
  EXPECT_EQ(ParseDate("2024-02-29"), absl::CivilDay(2024, 2, 29));
  EXPECT_EQ(ParseDate("2000-02-29"), absl::CivilDay(2000, 2, 29));
  EXPECT_EQ(ParseDate("2024-12-31"), absl::CivilDay(2024, 12, 31));
  EXPECT_EQ(ParseDate("0001-01-01"), absl::CivilDay(1, 1, 1));
}

TEST(ParseDateTest, RejectsAnythingElse) {
  for (const char* bad :
       {"", "2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01",
        "2024-00-10", "2024-01-00", "0000-01-01", "2024-1-01", "2024/01/01",
        " 2024-01-01", "2024-01-01 ", "2024-01-01T00:00", "+024-01-01",
        "20240101", "abcd-ef-gh"}) {
    EXPECT_FALSE(ParseDate(bad).has_value()) << bad;
  }
}

// ----------------------------------------------------- key result progress

TEST(KeyResultProgressTest, Increase) {
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kIncrease, 10, 20, 15)),
                   0.5);
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kIncrease, 10, 20, 10)), 0);
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kIncrease, 10, 20, 20)), 1);
}

TEST(KeyResultProgressTest, IncreaseStretchAboveOneAndRegressionBelowZero) {
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kIncrease, 0, 100, 150)),
                   1.5);
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kIncrease, 0, 100, -50)),
                   -0.5);
}

TEST(KeyResultProgressTest, Decrease) {
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kDecrease, 100, 50, 75)),
                   0.5);
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kDecrease, 100, 50, 25)),
                   1.5);
  EXPECT_DOUBLE_EQ(KeyResultProgress(Kr(Direction::kDecrease, 100, 50, 120)),
                   -0.4);
}

TEST(KeyResultProgressTest, StayAboveAndBelowAreAllOrNothing) {
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayAbove, 0, 99.9, 99.9)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayAbove, 0, 99.9, 99.8)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayAbove, 0, 99.9, 120)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayBelow, 0, 200, 200)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayBelow, 0, 200, 150)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayBelow, 0, 200, 201)), 0);
}

TEST(KeyResultProgressTest, BooleanAndMilestoneIgnoreDirection) {
  for (Measure m : {Measure::kBoolean, Measure::kMilestone}) {
    for (Direction d : {Direction::kIncrease, Direction::kDecrease,
                        Direction::kStayAbove, Direction::kStayBelow}) {
      EXPECT_EQ(KeyResultProgress(Kr(d, 0, 1, 0, m)), 0);
      EXPECT_EQ(KeyResultProgress(Kr(d, 0, 1, 0.99, m)), 0);
      EXPECT_EQ(KeyResultProgress(Kr(d, 0, 1, 1, m)), 1);
      EXPECT_EQ(KeyResultProgress(Kr(d, 0, 1, 2, m)), 1);
    }
  }
}

TEST(KeyResultProgressTest, DegenerateTargetEqualsBaseline) {
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, 5, 5, 4.9)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, 5, 5, 5)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, 5, 5, 9)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kDecrease, 5, 5, 5.1)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kDecrease, 5, 5, 5)), 1);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kDecrease, 5, 5, 1)), 1);
}

TEST(KeyResultProgressTest, NonFiniteGivesZeroNeverNaN) {
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, 0, 10, kNaN)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, kNaN, 10, 5)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, 0, kInf, 5)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kDecrease, 0, -10, -kInf)), 0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kStayAbove, 0, 10, kInf)), 0);
  EXPECT_EQ(KeyResultProgress(
                Kr(Direction::kIncrease, 0, 1, kNaN, Measure::kBoolean)),
            0);
  // Overflow of the quotient.
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, -1e308, 1e308, 1e308)),
            0);
  EXPECT_EQ(KeyResultProgress(Kr(Direction::kIncrease, 0, 1e-320, 1e300)), 0);
}

TEST(KeyResultProgressTest, InvalidDirectionGivesZero) {
  EXPECT_EQ(KeyResultProgress(Kr(static_cast<Direction>(0), 0, 10, 5)), 0);
}

// ------------------------------------------------------------ clamp, roll-up

TEST(Clamp01Test, Clamps) {
  EXPECT_EQ(Clamp01(-0.5), 0);
  EXPECT_EQ(Clamp01(0.25), 0.25);
  EXPECT_EQ(Clamp01(1.5), 1);
  EXPECT_EQ(Clamp01(kNaN), 0);
  EXPECT_EQ(Clamp01(kInf), 1);
  EXPECT_EQ(Clamp01(-kInf), 0);
}

TEST(GoalProgressTest, EachSource) {
  EXPECT_DOUBLE_EQ(GoalProgress(ProgressSource::kKeyResults, 4, 2, 1, 1), 0.5);
  EXPECT_DOUBLE_EQ(GoalProgress(ProgressSource::kChildren, 4, 2, 4, 1), 0.25);
  EXPECT_DOUBLE_EQ(GoalProgress(ProgressSource::kBoth, 3, 3, 1, 0), 0.75);
}

TEST(GoalProgressTest, ZeroDenominatorGivesZero) {
  EXPECT_EQ(GoalProgress(ProgressSource::kKeyResults, 0, 0, 2, 2), 0);
  EXPECT_EQ(GoalProgress(ProgressSource::kChildren, 2, 2, 0, 0), 0);
  EXPECT_EQ(GoalProgress(ProgressSource::kBoth, 0, 0, 0, 0), 0);
}

TEST(GoalProgressTest, BothWithOnlyOneSidePresent) {
  EXPECT_DOUBLE_EQ(GoalProgress(ProgressSource::kBoth, 0, 0, 2, 1), 0.5);
  EXPECT_DOUBLE_EQ(GoalProgress(ProgressSource::kBoth, 2, 1.5, 0, 0), 0.75);
}

TEST(GoalProgressTest, ClampedAndNeverNaN) {
  EXPECT_EQ(GoalProgress(ProgressSource::kKeyResults, 1, 2, 0, 0), 1);
  EXPECT_EQ(GoalProgress(ProgressSource::kKeyResults, 1, -1, 0, 0), 0);
  EXPECT_EQ(GoalProgress(ProgressSource::kKeyResults, kNaN, 1, 0, 0), 0);
  EXPECT_EQ(GoalProgress(ProgressSource::kKeyResults, 1, kNaN, 0, 0), 0);
  EXPECT_EQ(GoalProgress(ProgressSource::kKeyResults, kInf, kInf, 0, 0), 0);
  EXPECT_EQ(GoalProgress(static_cast<ProgressSource>(9), 1, 1, 1, 1), 0);
}

TEST(CountsInParentTest, AllButCancelledAndArchived) {
  EXPECT_TRUE(CountsInParent(GoalState::kDraft));
  EXPECT_TRUE(CountsInParent(GoalState::kPendingApproval));
  EXPECT_TRUE(CountsInParent(GoalState::kActive));
  EXPECT_TRUE(CountsInParent(GoalState::kCompleted));
  EXPECT_FALSE(CountsInParent(GoalState::kCancelled));
  EXPECT_FALSE(CountsInParent(GoalState::kArchived));
}

TEST(ContributionTest, KeyResultStretchIsClampedInTheRollUp) {
  KeyResult kr = Kr(Direction::kIncrease, 0, 100, 180);
  kr.weight = 2;
  EXPECT_DOUBLE_EQ(KeyResultProgress(kr), 1.8);
  EXPECT_EQ(KeyResultContribution(kr), (Contribution{2, 2}));
  kr.current = -40;
  EXPECT_EQ(KeyResultContribution(kr), (Contribution{2, 0}));
  kr.current = 25;
  EXPECT_EQ(KeyResultContribution(kr), (Contribution{2, 0.5}));
}

TEST(ContributionTest, KeyResultWithBadWeightContributesNothing) {
  KeyResult kr = Kr(Direction::kIncrease, 0, 100, 50);
  for (double w : {0.0, -1.0, kNaN, kInf}) {
    kr.weight = w;
    EXPECT_EQ(KeyResultContribution(kr), Contribution{}) << w;
  }
}

TEST(ContributionTest, ChildCountsUnlessCancelledOrArchived) {
  Goal child;
  child.weight = 3;
  child.progress = 0.5;
  child.state = GoalState::kActive;
  EXPECT_EQ(ChildContribution(child), (Contribution{3, 1.5}));
  child.state = GoalState::kDraft;
  EXPECT_EQ(ChildContribution(child), (Contribution{3, 1.5}));
  child.state = GoalState::kCancelled;
  EXPECT_EQ(ChildContribution(child), Contribution{});
  child.state = GoalState::kArchived;
  EXPECT_EQ(ChildContribution(child), Contribution{});
}

TEST(ApplyDeltaTest, AddUpdateAndRemoveKeyResults) {
  Goal goal;
  goal.progress_source = ProgressSource::kKeyResults;
  KeyResult a = Kr(Direction::kIncrease, 0, 10, 5);  // 0.5
  KeyResult b = Kr(Direction::kIncrease, 0, 10, 0);  // 0
  b.weight = 3;
  ApplyKrDelta(&goal, {}, KeyResultContribution(a));
  EXPECT_DOUBLE_EQ(goal.progress, 0.5);
  ApplyKrDelta(&goal, {}, KeyResultContribution(b));
  EXPECT_DOUBLE_EQ(goal.kr_weight, 4);
  EXPECT_DOUBLE_EQ(goal.progress, 0.125);

  // A check-in moves b to 15 of 10: a stretch, clamped to 1 in the roll-up.
  const Contribution before = KeyResultContribution(b);
  b.current = 15;
  ApplyKrDelta(&goal, before, KeyResultContribution(b));
  EXPECT_DOUBLE_EQ(goal.progress, (0.5 + 3) / 4);

  ApplyKrDelta(&goal, KeyResultContribution(b), {});
  EXPECT_DOUBLE_EQ(goal.progress, 0.5);
  ApplyKrDelta(&goal, KeyResultContribution(a), {});
  EXPECT_EQ(goal.kr_weight, 0);
  EXPECT_EQ(goal.kr_weighted, 0);
  EXPECT_EQ(goal.progress, 0);
}

TEST(ApplyDeltaTest, CancelledChildLeavesParentRollUp) {
  Goal parent;
  parent.progress_source = ProgressSource::kChildren;
  Goal done;
  done.state = GoalState::kActive;
  done.progress = 1;
  Goal stuck;
  stuck.state = GoalState::kActive;
  stuck.progress = 0;
  ApplyChildDelta(&parent, {}, ChildContribution(done));
  ApplyChildDelta(&parent, {}, ChildContribution(stuck));
  EXPECT_DOUBLE_EQ(parent.progress, 0.5);

  const Contribution before = ChildContribution(stuck);
  stuck.state = GoalState::kCancelled;
  ApplyChildDelta(&parent, before, ChildContribution(stuck));
  EXPECT_DOUBLE_EQ(parent.child_weight, 1);
  EXPECT_DOUBLE_EQ(parent.progress, 1);

  // Reopening is not allowed from CANCELLED, but archiving a cancelled
  // child changes nothing.
  const Contribution cancelled = ChildContribution(stuck);
  stuck.state = GoalState::kArchived;
  ApplyChildDelta(&parent, cancelled, ChildContribution(stuck));
  EXPECT_DOUBLE_EQ(parent.progress, 1);
}

TEST(ApplyDeltaTest, BothSourceMixesKeyResultsAndChildren) {
  Goal goal;
  goal.progress_source = ProgressSource::kBoth;
  KeyResult kr = Kr(Direction::kIncrease, 0, 10, 10);  // 1, weight 1
  Goal child;
  child.state = GoalState::kActive;
  child.weight = 3;
  child.progress = 0.2;
  ApplyKrDelta(&goal, {}, KeyResultContribution(kr));
  EXPECT_DOUBLE_EQ(goal.progress, 1);
  ApplyChildDelta(&goal, {}, ChildContribution(child));
  EXPECT_DOUBLE_EQ(goal.progress, (1 + 0.6) / 4);

  // The same sums read differently under another source.
  goal.progress_source = ProgressSource::kChildren;
  RecomputeProgress(&goal);
  EXPECT_DOUBLE_EQ(goal.progress, 0.2);
  goal.progress_source = ProgressSource::kKeyResults;
  RecomputeProgress(&goal);
  EXPECT_DOUBLE_EQ(goal.progress, 1);
}

TEST(ApplyDeltaTest, DriftGuardResetsTinyWeightSums) {
  Goal goal;
  goal.progress_source = ProgressSource::kKeyResults;
  // Many adds and removes of awkward weights leave float residue.
  for (int i = 0; i < 1000; ++i) {
    ApplyKrDelta(&goal, {}, {0.1, 0.07});
    ApplyKrDelta(&goal, {}, {0.2, 0.01});
  }
  for (int i = 0; i < 1000; ++i) {
    ApplyKrDelta(&goal, {0.1, 0.07}, {});
    ApplyKrDelta(&goal, {0.2, 0.01}, {});
  }
  EXPECT_EQ(goal.kr_weight, 0);
  EXPECT_EQ(goal.kr_weighted, 0);
  EXPECT_EQ(goal.progress, 0);

  // Residue below 1e-9 in the weight is cleared together with its weighted
  // sum.
  goal.kr_weight = 1;
  goal.kr_weighted = 0.5;
  ApplyKrDelta(&goal, {1 - 1e-12, 0.5}, {});
  EXPECT_EQ(goal.kr_weight, 0);
  EXPECT_EQ(goal.kr_weighted, 0);
}

TEST(ApplyDeltaTest, WeightedSumStaysWithinZeroAndWeight) {
  Goal goal;
  goal.progress_source = ProgressSource::kChildren;
  goal.child_weight = 2;
  goal.child_weighted = 0.1;
  ApplyChildDelta(&goal, {0, 0.1 + 1e-12}, {});
  EXPECT_EQ(goal.child_weighted, 0);
  EXPECT_EQ(goal.progress, 0);

  goal.child_weight = 2;
  goal.child_weighted = 2;
  ApplyChildDelta(&goal, {}, {0, 1e-12});
  EXPECT_EQ(goal.child_weighted, 2);
  EXPECT_EQ(goal.progress, 1);
}

TEST(ApplyDeltaTest, NonFiniteDeltaIsIgnored) {
  Goal goal;
  goal.progress_source = ProgressSource::kKeyResults;
  ApplyKrDelta(&goal, {}, {2, 1});
  ApplyKrDelta(&goal, {}, {kNaN, kInf});
  EXPECT_DOUBLE_EQ(goal.kr_weight, 2);
  EXPECT_DOUBLE_EQ(goal.progress, 0.5);
}

// ------------------------------------------------------- expected progress

TEST(ExpectedProgressTest, BeforeInsideAndAfterTheWindow) {
  // 2024-01-01 00:00 to 2024-01-10 24:00 UTC: ten days.
  EXPECT_EQ(ExpectedProgress("2024-01-01", "2024-01-10", At(2023, 12, 31)), 0);
  EXPECT_EQ(ExpectedProgress("2024-01-01", "2024-01-10", At(2024, 1, 1)), 0);
  EXPECT_DOUBLE_EQ(ExpectedProgress("2024-01-01", "2024-01-10", At(2024, 1, 2)),
                   0.1);
  EXPECT_DOUBLE_EQ(ExpectedProgress("2024-01-01", "2024-01-10", At(2024, 1, 6)),
                   0.5);
  // The due date counts in full: noon on it is not yet the end.
  EXPECT_DOUBLE_EQ(
      ExpectedProgress("2024-01-01", "2024-01-10", At(2024, 1, 10, 12)), 0.95);
  EXPECT_EQ(ExpectedProgress("2024-01-01", "2024-01-10", At(2024, 1, 11)), 1);
  EXPECT_EQ(ExpectedProgress("2024-01-01", "2024-01-10", At(2025, 1, 1)), 1);
}

TEST(ExpectedProgressTest, OneDayWindow) {
  EXPECT_DOUBLE_EQ(
      ExpectedProgress("2024-03-05", "2024-03-05", At(2024, 3, 5, 6)), 0.25);
}

TEST(ExpectedProgressTest, EmptyInvalidOrInvertedWindowGivesZero) {
  const absl::Time now = At(2024, 6, 1);
  EXPECT_EQ(ExpectedProgress("", "2024-12-31", now), 0);
  EXPECT_EQ(ExpectedProgress("2024-01-01", "", now), 0);
  EXPECT_EQ(ExpectedProgress("2024-02-30", "2024-12-31", now), 0);
  EXPECT_EQ(ExpectedProgress("2024-01-01", "31/12/2024", now), 0);
  EXPECT_EQ(ExpectedProgress("2024-12-31", "2024-01-01", now), 0);
}

TEST(ExpectedProgressTest, InfiniteTimes) {
  EXPECT_EQ(ExpectedProgress("2024-01-01", "2024-01-10", absl::InfinitePast()),
            0);
  EXPECT_EQ(
      ExpectedProgress("2024-01-01", "2024-01-10", absl::InfiniteFuture()), 1);
}

// ------------------------------------------------------------------- health

TEST(ComputeHealthTest, GapThresholds) {
  const HealthPolicy policy;
  EXPECT_EQ(policy.at_risk_gap, 0.10);
  EXPECT_EQ(policy.off_track_gap, 0.25);
  EXPECT_EQ(policy.stretch_success, 0.7);
  const Health none = Health::kUnspecified;
  EXPECT_EQ(ComputeHealth(0.9, 0.5, none, policy), Health::kOnTrack);  // ahead
  EXPECT_EQ(ComputeHealth(0.5, 0.5, none, policy), Health::kOnTrack);
  EXPECT_EQ(ComputeHealth(0.4, 0.5, none, policy), Health::kOnTrack);  // 0.10
  EXPECT_EQ(ComputeHealth(0.39, 0.5, none, policy), Health::kAtRisk);
  EXPECT_EQ(ComputeHealth(0.25, 0.5, none, policy), Health::kAtRisk);  // 0.25
  EXPECT_EQ(ComputeHealth(0.24, 0.5, none, policy), Health::kOffTrack);
  EXPECT_EQ(ComputeHealth(0, 1, none, policy), Health::kOffTrack);
}

TEST(ComputeHealthTest, CustomPolicy) {
  const HealthPolicy strict{.at_risk_gap = 0, .off_track_gap = 0.05};
  EXPECT_EQ(ComputeHealth(0.5, 0.5, Health::kUnspecified, strict),
            Health::kOnTrack);
  EXPECT_EQ(ComputeHealth(0.49, 0.5, Health::kUnspecified, strict),
            Health::kAtRisk);
  EXPECT_EQ(ComputeHealth(0.4, 0.5, Health::kUnspecified, strict),
            Health::kOffTrack);
}

TEST(ComputeHealthTest, NeverBetterThanTheLastCheckIn) {
  // On track by the numbers.
  EXPECT_EQ(ComputeHealth(0.5, 0.5, Health::kOnTrack), Health::kOnTrack);
  EXPECT_EQ(ComputeHealth(0.5, 0.5, Health::kAtRisk), Health::kAtRisk);
  EXPECT_EQ(ComputeHealth(0.5, 0.5, Health::kOffTrack), Health::kOffTrack);
  // Off track by the numbers: an optimistic check-in does not help.
  EXPECT_EQ(ComputeHealth(0, 0.9, Health::kOnTrack), Health::kOffTrack);
  EXPECT_EQ(ComputeHealth(0.35, 0.5, Health::kOnTrack), Health::kAtRisk);
  EXPECT_EQ(ComputeHealth(0.35, 0.5, Health::kOffTrack), Health::kOffTrack);
}

TEST(ComputeHealthTest, NaNCountsAsZero) {
  EXPECT_EQ(ComputeHealth(kNaN, 0.05, Health::kUnspecified), Health::kOnTrack);
  EXPECT_EQ(ComputeHealth(0, kNaN, Health::kUnspecified), Health::kOnTrack);
  EXPECT_EQ(ComputeHealth(kNaN, 1, Health::kUnspecified), Health::kOffTrack);
}

// ------------------------------------------------------- score and outcome

TEST(ScoreTest, IsClampedProgress) {
  EXPECT_EQ(Score(0.42), 0.42);
  EXPECT_EQ(Score(1.3), 1);
  EXPECT_EQ(Score(-0.1), 0);
  EXPECT_EQ(Score(kNaN), 0);
}

TEST(ComputeOutcomeTest, Committed) {
  EXPECT_EQ(ComputeOutcome(Kind::kCommitted, 1), Outcome::kAchieved);
  EXPECT_EQ(ComputeOutcome(Kind::kCommitted, 1 - 1e-12), Outcome::kAchieved);
  EXPECT_EQ(ComputeOutcome(Kind::kCommitted, 0.999), Outcome::kMissed);
  EXPECT_EQ(ComputeOutcome(Kind::kCommitted, 0), Outcome::kMissed);
  EXPECT_EQ(ComputeOutcome(Kind::kCommitted, kNaN), Outcome::kMissed);
}

TEST(ComputeOutcomeTest, StretchAtThreshold) {
  EXPECT_EQ(ComputeOutcome(Kind::kStretch, 0.7), Outcome::kAchieved);
  // 0.1 * 7 is 0.7000000000000001, 0.7 * 1 is exact; sums of weights land
  // on either side of 0.7.
  EXPECT_EQ(ComputeOutcome(Kind::kStretch, 0.7 - 1e-12), Outcome::kAchieved);
  EXPECT_EQ(ComputeOutcome(Kind::kStretch, 0.69), Outcome::kMissed);
  EXPECT_EQ(ComputeOutcome(Kind::kStretch, 1), Outcome::kAchieved);
  const HealthPolicy policy{.stretch_success = 0.6};
  EXPECT_EQ(ComputeOutcome(Kind::kStretch, 0.65, policy), Outcome::kAchieved);
}

TEST(ComputeOutcomeTest, ExperimentIsConcludedWhateverTheScore) {
  EXPECT_EQ(ComputeOutcome(Kind::kExperiment, 0), Outcome::kConcluded);
  EXPECT_EQ(ComputeOutcome(Kind::kExperiment, 1), Outcome::kConcluded);
  EXPECT_EQ(ComputeOutcome(static_cast<Kind>(0), 1), Outcome::kUnspecified);
}

}  // namespace
}  // namespace sightline::goals
