#include "services/metrics/scorecard.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "lib/status/status.h"

namespace sightline::metrics {
namespace {

constexpr const char* kPartNames[kScoreParts] = {
    "goals",    "feedback",         "financial",
    "customer", "internal_process", "learning_and_growth"};

// The day number (days since 1970-01-01) of YYYY-MM-DD; nullopt when malformed.
std::optional<int64_t> DayOf(const std::string& date) {
  absl::CivilDay day;
  if (date.empty() || !absl::ParseCivilTime(date, &day)) return std::nullopt;
  return day - absl::CivilDay(1970, 1, 1);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

const char* ScorePartName(ScorePart part) {
  return kPartNames[static_cast<int>(part)];
}

ScorePart PartOf(Perspective p) {
  switch (p) {
    case Perspective::kFinancial:
      return ScorePart::kFinancial;
    case Perspective::kCustomer:
      return ScorePart::kCustomer;
    case Perspective::kInternalProcess:
      return ScorePart::kInternalProcess;
    case Perspective::kLearningAndGrowth:
      return ScorePart::kLearningAndGrowth;
  }
  return ScorePart::kFinancial;
}

absl::StatusOr<ScorecardWeights> ParseScorecardWeights(
    const std::string& text, const std::string& flag) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", why,
        " (expected key=weight pairs separated by commas, keys among goals, "
        "feedback, financial, customer, internal_process, "
        "learning_and_growth; e.g. goals=0.3,feedback=0.1,financial=0.15,"
        "customer=0.15,internal_process=0.15,learning_and_growth=0.15)"));
  };
  ScorecardWeights out;
  out.weight.fill(0);
  std::array<bool, kScoreParts> seen{};
  double total = 0;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) return bad("an empty entry");
    std::vector<absl::string_view> kv = absl::StrSplit(item, '=');
    if (kv.size() != 2)
      return bad(absl::StrCat("'", item, "' is not key=weight"));
    absl::string_view key = absl::StripAsciiWhitespace(kv[0]);
    absl::string_view value = absl::StripAsciiWhitespace(kv[1]);
    int part = -1;
    for (int i = 0; i < kScoreParts; ++i) {
      if (key == kPartNames[i]) part = i;
    }
    if (part < 0) return bad(absl::StrCat("unknown part '", key, "'"));
    if (seen[part]) return bad(absl::StrCat("'", key, "' is given twice"));
    seen[part] = true;
    double w = 0;
    if (!absl::SimpleAtod(value, &w) || !std::isfinite(w) || w < 0) {
      return bad(absl::StrCat("the weight of '", key,
                              "' must be a finite number >= 0; got '", value,
                              "'"));
    }
    out.weight[part] = w;
    total += w;
  }
  if (!(total > 0)) return bad("every weight is 0");
  if (!std::isfinite(total)) return bad("the weights add up past a double");
  return out;
}

std::string DateOf(int64_t micros) {
  int64_t day = FloorDiv(micros, kMicrosPerDay);
  absl::CivilDay d = absl::CivilDay(1970, 1, 1) + day;
  return absl::FormatCivilTime(d);
}

GoalsPart SummarizeGoals(const GoalsInput& in, int64_t period_start,
                         int64_t period_end) {
  std::map<std::string, const CycleFact*> cycles;
  for (const auto& c : in.cycles) cycles[c.id] = &c;
  // The period as days: [first, last].
  const int64_t first = FloorDiv(period_start, kMicrosPerDay);
  const int64_t last = FloorDiv(period_end - 1, kMicrosPerDay);
  GoalsPart out;
  double progress_sum = 0;
  int with_health = 0, on_track = 0;
  struct Acc {
    int n = 0;
    double sum = 0;
  };
  std::map<std::string, Acc> closed;
  for (const auto& g : in.goals) {
    if (g.stage == GoalStage::kOther) continue;
    auto it = cycles.find(g.cycle_id);
    const CycleFact* cycle = it == cycles.end() ? nullptr : it->second;
    std::optional<int64_t> start =
        DayOf(!g.start_date.empty() || cycle == nullptr ? g.start_date
                                                        : cycle->start_date);
    std::optional<int64_t> due = DayOf(
        !g.due_date.empty() || cycle == nullptr ? g.due_date : cycle->end_date);
    // A window the goals service did not state is not ruled out.
    if (start && *start > last) continue;
    if (due && *due < first) continue;
    ++out.goal_count;
    progress_sum +=
        std::clamp(std::isfinite(g.progress) ? g.progress : 0.0, 0.0, 1.0);
    if (g.stage == GoalStage::kActive && g.health != GoalHealth::kUnspecified) {
      ++with_health;
      if (g.health == GoalHealth::kOnTrack) ++on_track;
    }
    if (g.score.has_value() && cycle != nullptr && cycle->closed) {
      Acc& a = closed[g.cycle_id];
      ++a.n;
      a.sum += *g.score;
    }
  }
  if (out.goal_count == 0) {
    out.state = PartState::kNoData;
    return out;
  }
  out.state = PartState::kComplete;
  out.mean_progress = progress_sum / out.goal_count;
  out.score = out.mean_progress;
  if (with_health > 0) {
    out.on_track_share = static_cast<double>(on_track) / with_health;
  }
  for (const auto& [id, a] : closed) {
    CycleScore c;
    c.cycle_id = id;
    c.display_name = cycles[id]->display_name;
    c.goal_count = a.n;
    c.mean_score = a.sum / a.n;
    out.closed_cycles.push_back(std::move(c));
  }
  return out;
}

FeedbackPart SummarizeFeedback(const FeedbackInput& in) {
  FeedbackPart out;
  out.stats = in;
  if (in.withheld) {
    // Nothing of the withheld stats goes further, not even in a score.
    out.state = PartState::kWithheld;
    out.reason = in.withheld_reason;
    FeedbackInput kept;
    kept.start_date = in.start_date;
    kept.end_date = in.end_date;
    kept.withheld = true;
    kept.withheld_reason = in.withheld_reason;
    out.stats = kept;
    return out;
  }
  if (in.requests_asked > 0) {
    out.score = std::clamp(
        static_cast<double>(in.requests_answered) / in.requests_asked, 0.0,
        1.0);
    out.state = PartState::kComplete;
  } else {
    out.state = PartState::kNoData;
  }
  return out;
}

std::optional<double> KpiScore(const std::vector<KpiState>& states) {
  double sum = 0;
  int n = 0;
  for (KpiState s : states) {
    switch (s) {
      case KpiState::kGreen:
        sum += 1;
        ++n;
        break;
      case KpiState::kAmber:
        sum += 0.5;
        ++n;
        break;
      case KpiState::kRed:
        ++n;
        break;
      default:
        break;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::optional<double> OverallScore(
    const ScorecardWeights& weights,
    const std::array<std::optional<double>, kScoreParts>& scores,
    const std::array<bool, kScoreParts>& missing) {
  double sum = 0, total = 0;
  for (int i = 0; i < kScoreParts; ++i) {
    const double w = weights.weight[i];
    if (w <= 0) continue;
    // What a missing part would have added is unknown: no number at all.
    if (missing[i]) return std::nullopt;
    if (!scores[i].has_value()) continue;
    sum += w * *scores[i];
    total += w;
  }
  if (total <= 0) return std::nullopt;
  return sum / total;
}

}  // namespace sightline::metrics
