// The scorecard's figures and weighting, without a server.

#include "services/metrics/scorecard.h"

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::metrics {
namespace {

using ::testing::DoubleNear;
using ::testing::HasSubstr;
using testing::StatusIs;

int64_t Day(int y, int m, int d) {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()));
}

GoalFact Goal(const std::string& id, GoalStage stage, double progress,
              GoalHealth health, const std::string& cycle = "q1") {
  GoalFact g;
  g.id = id;
  g.cycle_id = cycle;
  g.stage = stage;
  g.progress = progress;
  g.health = health;
  return g;
}

GoalsInput WithCycles(std::vector<GoalFact> goals) {
  GoalsInput in;
  in.goals = std::move(goals);
  in.cycles = {{"q1", "Q1", "2026-01-01", "2026-03-31", false},
               {"q4", "Q4 2025", "2025-10-01", "2025-12-31", true}};
  return in;
}

TEST(ScorecardWeightsTest, ParsesEveryPartAndLeavesUnlistedAtZero) {
  auto w = ParseScorecardWeights("goals=0.5, feedback=0.25,financial=0.25",
                                 "--scorecard_weights");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_DOUBLE_EQ(w->of(ScorePart::kGoals), 0.5);
  EXPECT_DOUBLE_EQ(w->of(ScorePart::kFeedback), 0.25);
  EXPECT_DOUBLE_EQ(w->of(ScorePart::kFinancial), 0.25);
  EXPECT_DOUBLE_EQ(w->of(ScorePart::kCustomer), 0);
  EXPECT_DOUBLE_EQ(w->of(ScorePart::kLearningAndGrowth), 0);
}

TEST(ScorecardWeightsTest, DefaultsSumToOne) {
  ScorecardWeights w;
  double sum = 0;
  for (double x : w.weight) sum += x;
  EXPECT_DOUBLE_EQ(sum, 1.0);
  auto flag_default = ParseScorecardWeights(
      "goals=0.3,feedback=0.1,financial=0.15,customer=0.15,"
      "internal_process=0.15,learning_and_growth=0.15",
      "--scorecard_weights");
  ASSERT_TRUE(flag_default.ok());
  EXPECT_EQ(flag_default->weight, w.weight);
}

TEST(ScorecardWeightsTest, RefusesBadValuesNamingTheFlag) {
  for (const char* bad :
       {"", "goals", "goals=-1", "goals=abc", "goals=nan", "goals=inf",
        "salary=1", "goals=1,goals=2", "goals=0,feedback=0", "goals=1,,",
        "goals=1e308,feedback=1e308"}) {
    auto w = ParseScorecardWeights(bad, "--scorecard_weights");
    EXPECT_THAT(w.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("--scorecard_weights: ")))
        << bad;
  }
  EXPECT_THAT(ParseScorecardWeights("salary=1", "--scorecard_weights").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown part 'salary'")));
}

TEST(SummarizeGoalsTest, MeanProgressAndShareOnTrack) {
  auto part = SummarizeGoals(
      WithCycles({Goal("a", GoalStage::kActive, 0.2, GoalHealth::kOnTrack),
                  Goal("b", GoalStage::kActive, 0.6, GoalHealth::kAtRisk),
                  Goal("c", GoalStage::kActive, 0.4, GoalHealth::kOnTrack),
                  Goal("d", GoalStage::kActive, 0.0, GoalHealth::kUnspecified),
                  Goal("e", GoalStage::kCompleted, 1.0, GoalHealth::kOffTrack),
                  // Drafts, cancelled and archived goals are not counted.
                  Goal("f", GoalStage::kOther, 0.9, GoalHealth::kOnTrack)}),
      Day(2026, 1, 1), Day(2026, 4, 1));
  EXPECT_EQ(part.state, PartState::kComplete);
  EXPECT_EQ(part.goal_count, 5);
  EXPECT_NEAR(part.mean_progress, (0.2 + 0.6 + 0.4 + 0.0 + 1.0) / 5, 1e-12);
  // Active goals with a health: a, b, c; on track: a, c.
  ASSERT_TRUE(part.on_track_share.has_value());
  EXPECT_NEAR(*part.on_track_share, 2.0 / 3, 1e-12);
  ASSERT_TRUE(part.score.has_value());
  EXPECT_NEAR(*part.score, part.mean_progress, 1e-12);
  EXPECT_TRUE(part.closed_cycles.empty());
}

TEST(SummarizeGoalsTest, CountsOnlyGoalsWhoseWindowOverlapsThePeriod) {
  GoalFact own_window =
      Goal("w", GoalStage::kActive, 0.5, GoalHealth::kOnTrack);
  own_window.start_date = "2026-02-01";
  own_window.due_date = "2026-02-28";
  auto in = WithCycles(
      {Goal("a", GoalStage::kActive, 0.2, GoalHealth::kOnTrack), own_window});
  // March: the cycle's window overlaps, the goal's own window does not.
  auto march = SummarizeGoals(in, Day(2026, 3, 1), Day(2026, 4, 1));
  EXPECT_EQ(march.goal_count, 1);
  // The period ends where February starts: exclusive.
  auto january = SummarizeGoals(in, Day(2026, 1, 1), Day(2026, 2, 1));
  EXPECT_EQ(january.goal_count, 1);
  auto february = SummarizeGoals(in, Day(2026, 2, 28), Day(2026, 3, 1));
  EXPECT_EQ(february.goal_count, 2);
  auto later = SummarizeGoals(in, Day(2026, 6, 1), Day(2026, 7, 1));
  EXPECT_EQ(later.goal_count, 0);
  EXPECT_EQ(later.state, PartState::kNoData);
  EXPECT_FALSE(later.score.has_value());
}

TEST(SummarizeGoalsTest, ScoresOfClosedCyclesByCycle) {
  GoalFact a =
      Goal("a", GoalStage::kCompleted, 0.8, GoalHealth::kUnspecified, "q4");
  a.score = 0.8;
  GoalFact b =
      Goal("b", GoalStage::kCompleted, 0.4, GoalHealth::kUnspecified, "q4");
  b.score = 0.4;
  auto part = SummarizeGoals(
      WithCycles(
          {a, b, Goal("c", GoalStage::kActive, 0.5, GoalHealth::kOnTrack)}),
      Day(2025, 12, 1), Day(2026, 2, 1));
  EXPECT_EQ(part.goal_count, 3);
  ASSERT_EQ(part.closed_cycles.size(), 1u);
  EXPECT_EQ(part.closed_cycles[0].cycle_id, "q4");
  EXPECT_EQ(part.closed_cycles[0].display_name, "Q4 2025");
  EXPECT_EQ(part.closed_cycles[0].goal_count, 2);
  EXPECT_NEAR(part.closed_cycles[0].mean_score, 0.6, 1e-12);
  // Completed goals have no say in the share on track.
  ASSERT_TRUE(part.on_track_share.has_value());
  EXPECT_DOUBLE_EQ(*part.on_track_share, 1.0);
}

TEST(SummarizeFeedbackTest, ResponseRateIsTheScore) {
  FeedbackInput in;
  in.total = 7;
  in.praise = 5;
  in.requests_asked = 4;
  in.requests_answered = 3;
  auto part = SummarizeFeedback(in);
  EXPECT_EQ(part.state, PartState::kComplete);
  ASSERT_TRUE(part.score.has_value());
  EXPECT_DOUBLE_EQ(*part.score, 0.75);
  EXPECT_EQ(part.stats.praise, 5);

  in.requests_asked = 0;
  in.requests_answered = 0;
  auto none = SummarizeFeedback(in);
  EXPECT_EQ(none.state, PartState::kNoData);
  EXPECT_FALSE(none.score.has_value());
}

TEST(SummarizeFeedbackTest, WithheldKeepsNothingButTheReason) {
  FeedbackInput in;
  in.withheld = true;
  in.withheld_reason = "fewer than 3 distinct authors";
  // Counts a buggy source might still send are dropped, not passed on.
  in.total = 2;
  in.requests_asked = 2;
  in.requests_answered = 2;
  auto part = SummarizeFeedback(in);
  EXPECT_EQ(part.state, PartState::kWithheld);
  EXPECT_EQ(part.reason, "fewer than 3 distinct authors");
  EXPECT_FALSE(part.score.has_value());
  EXPECT_EQ(part.stats.total, 0);
  EXPECT_EQ(part.stats.requests_asked, 0);
}

TEST(KpiScoreTest, GreenAmberRedAveragedOthersIgnored) {
  EXPECT_FALSE(KpiScore({}).has_value());
  EXPECT_FALSE(
      KpiScore({KpiState::kNoData, KpiState::kStale, KpiState::kNoTarget})
          .has_value());
  auto s = KpiScore({KpiState::kGreen, KpiState::kAmber, KpiState::kRed,
                     KpiState::kNoData, KpiState::kGreen});
  ASSERT_TRUE(s.has_value());
  EXPECT_NEAR(*s, (1 + 0.5 + 0 + 1) / 4.0, 1e-12);
}

TEST(OverallScoreTest, WeightedMeanRenormalisedOverScoredParts) {
  ScorecardWeights w;  // 0.3, 0.1, 0.15 x 4
  std::array<std::optional<double>, kScoreParts> scores = {
      0.5, std::nullopt, 1.0, std::nullopt, std::nullopt, 0.0};
  std::array<bool, kScoreParts> missing{};
  auto overall = OverallScore(w, scores, missing);
  ASSERT_TRUE(overall.has_value());
  EXPECT_NEAR(*overall, (0.3 * 0.5 + 0.15 * 1.0 + 0.15 * 0.0) / 0.6, 1e-12);
}

TEST(OverallScoreTest, NoNumberWhenAWeightedPartIsMissing) {
  ScorecardWeights w;
  std::array<std::optional<double>, kScoreParts> scores = {
      std::nullopt, 0.9, 1.0, 1.0, 1.0, 1.0};
  std::array<bool, kScoreParts> missing{};
  missing[static_cast<int>(ScorePart::kGoals)] = true;
  EXPECT_FALSE(OverallScore(w, scores, missing).has_value());

  // A missing part that weighs nothing takes nothing from the whole.
  auto no_goals = ParseScorecardWeights("feedback=1,financial=1", "--w");
  ASSERT_TRUE(no_goals.ok());
  auto overall = OverallScore(*no_goals, scores, missing);
  ASSERT_TRUE(overall.has_value());
  EXPECT_NEAR(*overall, 0.95, 1e-12);
}

TEST(OverallScoreTest, NoNumberWithoutAnyScoredPart) {
  ScorecardWeights w;
  std::array<std::optional<double>, kScoreParts> scores{};
  std::array<bool, kScoreParts> missing{};
  EXPECT_FALSE(OverallScore(w, scores, missing).has_value());
}

TEST(DateOfTest, UtcDays) {
  EXPECT_EQ(DateOf(Day(2026, 3, 1)), "2026-03-01");
  EXPECT_EQ(DateOf(Day(2026, 3, 1) - 1), "2026-02-28");
  EXPECT_EQ(DateOf(0), "1970-01-01");
}

}  // namespace
}  // namespace sightline::metrics
