#pragma once

// Scorecards: a person's or a team's goals, feedback activity and KPIs over a
// period, and an overall score. The figures of each part and the weighting are
// plain functions here; MetricsService::GetScorecard gathers the inputs (the
// goals and feedback services through ScorecardSources, on the caller's
// behalf) and decides who may ask.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/metrics/kpi.h"

namespace sightline::metrics {

// `people/{person}` or `teams/{team}`: exactly one id is set.
struct ScorecardSubject {
  std::string person_id;
  std::string team_id;
};

// How the other services are called for one scorecard: with the caller's
// own `authorization` metadata, so that their rules decide what is counted,
// and with the caller's deadline.
struct OnBehalf {
  std::string authorization;
  std::string request_id;
  absl::Time deadline = absl::InfiniteFuture();
};

// ---- inputs

enum class GoalHealth {
  kUnspecified = 0,
  kOnTrack = 1,
  kAtRisk = 2,
  kOffTrack = 3
};
enum class GoalStage { kOther = 0, kActive = 1, kCompleted = 2 };

struct GoalFact {
  std::string id;
  std::string cycle_id;
  GoalStage stage = GoalStage::kOther;
  double progress = 0;
  GoalHealth health = GoalHealth::kUnspecified;
  std::optional<double> score;
  // YYYY-MM-DD; empty: the cycle's.
  std::string start_date;
  std::string due_date;
};

struct CycleFact {
  std::string id;
  std::string display_name;
  std::string start_date;  // YYYY-MM-DD, inclusive
  std::string end_date;
  bool closed = false;
};

// What the goals service lets the caller see of the subject's goals.
struct GoalsInput {
  std::vector<GoalFact> goals;
  std::vector<CycleFact> cycles;
};

struct FeedbackInput {
  std::string start_date;
  std::string end_date;
  bool withheld = false;
  std::string withheld_reason;
  int total = 0;
  int praise = 0;
  int constructive = 0;
  int observation = 0;
  int requests_asked = 0;
  int requests_answered = 0;
};

// The goals and feedback services as the scorecard reads them. Errors are
// the dependency's (UNAVAILABLE when it is down).
class ScorecardSources {
 public:
  virtual ~ScorecardSources() = default;
  // Every goal of the subject the caller may read (all pages), and the
  // cycles they belong to.
  virtual absl::StatusOr<GoalsInput> Goals(const OnBehalf& who,
                                           const ScorecardSubject& subject) = 0;
  // The feedback service's stats for the subject over [start_date,
  // end_date] (YYYY-MM-DD).
  virtual absl::StatusOr<FeedbackInput> Feedback(
      const OnBehalf& who, const ScorecardSubject& subject,
      const std::string& start_date, const std::string& end_date) = 0;
};

// ---- weights

// The parts the overall score weighs.
enum class ScorePart {
  kGoals = 0,
  kFeedback,
  kFinancial,
  kCustomer,
  kInternalProcess,
  kLearningAndGrowth
};
inline constexpr int kScoreParts = 6;
// "goals", "feedback", "financial", "customer", "internal_process",
// "learning_and_growth".
const char* ScorePartName(ScorePart part);
ScorePart PartOf(Perspective p);

struct ScorecardWeights {
  // Defaults: goals 0.3, feedback 0.1, each KPI perspective 0.15.
  std::array<double, kScoreParts> weight = {0.3, 0.1, 0.15, 0.15, 0.15, 0.15};
  double of(ScorePart p) const { return weight[static_cast<int>(p)]; }
};

// `goals=0.4,feedback=0.1,financial=0.2,...`: every key at most once, each
// weight a finite number >= 0, at least one > 0. Keys not listed weigh 0.
// INVALID_ARGUMENT naming `flag` and what is wrong.
absl::StatusOr<ScorecardWeights> ParseScorecardWeights(const std::string& text,
                                                       const std::string& flag);

// ---- parts

enum class PartState {
  kComplete = 1,
  kNoData = 2,
  kWithheld = 3,
  kMissing = 4
};

struct CycleScore {
  std::string cycle_id;
  std::string display_name;
  int goal_count = 0;
  double mean_score = 0;
};

struct GoalsPart {
  PartState state = PartState::kNoData;
  std::string reason;
  int goal_count = 0;
  double mean_progress = 0;
  std::optional<double> on_track_share;
  std::vector<CycleScore> closed_cycles;
  std::optional<double> score;
};

struct FeedbackPart {
  PartState state = PartState::kNoData;
  std::string reason;
  FeedbackInput stats;
  std::optional<double> score;
};

// Counts ACTIVE and COMPLETED goals whose window (their dates, or their
// cycle's) overlaps [period_start, period_end) (UTC microseconds).
GoalsPart SummarizeGoals(const GoalsInput& in, int64_t period_start,
                         int64_t period_end);
FeedbackPart SummarizeFeedback(const FeedbackInput& in);
// GREEN 1, AMBER 0.5, RED 0, averaged; nullopt when no state is one of them.
std::optional<double> KpiScore(const std::vector<KpiState>& states);

// The overall score over the parts' scores (nullopt: no score) and which are
// missing. nullopt when a missing part weighs more than 0, or when no part
// with a weight has a score.
std::optional<double> OverallScore(
    const ScorecardWeights& weights,
    const std::array<std::optional<double>, kScoreParts>& scores,
    const std::array<bool, kScoreParts>& missing);

// YYYY-MM-DD of a UTC time.
std::string DateOf(int64_t micros);

}  // namespace sightline::metrics
