#pragma once

// The goals service's domain types: plain C++, no protos. Enum values match the
// API's numbering.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/org/access.h"

namespace sightline::goals {

enum class CycleState { kPlanning = 1, kActive = 2, kClosed = 3 };
enum class Level { kCompany = 1, kTeam = 2, kIndividual = 3 };
enum class Health {
  kUnspecified = 0,
  kOnTrack = 1,
  kAtRisk = 2,
  kOffTrack = 3
};
enum class ProgressSource { kKeyResults = 1, kChildren = 2, kBoth = 3 };
enum class Kind { kCommitted = 1, kStretch = 2, kExperiment = 3 };
// The same words, numbers and rules for every owned object (lib/org).
using Visibility = org::Visibility;
enum class GoalState {
  kDraft = 1,
  kPendingApproval = 2,
  kActive = 3,
  kCompleted = 4,
  kCancelled = 5,
  kArchived = 6,
};
enum class Outcome {
  kUnspecified = 0,
  kAchieved = 1,
  kMissed = 2,
  kConcluded = 3
};
enum class StakeholderRole { kConsulted = 1, kInformed = 2 };
enum class Measure {
  kNumber = 1,
  kPercent = 2,
  kCurrency = 3,
  kBoolean = 4,
  kMilestone = 5
};
enum class Direction {
  kIncrease = 1,
  kDecrease = 2,
  kStayAbove = 3,
  kStayBelow = 4
};

struct Cycle {
  std::string id;
  std::string display_name;
  std::string start_date;  // YYYY-MM-DD, inclusive
  std::string end_date;
  CycleState state = CycleState::kPlanning;
  int64_t revision = 0;
  int64_t create_time = 0;
  int64_t update_time = 0;
  int64_t close_time = 0;
};

// The owner is a person or a team: exactly one of the two ids is set.
struct Owner {
  std::string person_id;
  std::string team_id;
  bool is_team() const { return !team_id.empty(); }
  bool empty() const { return person_id.empty() && team_id.empty(); }
  bool operator==(const Owner&) const = default;
};

struct Stakeholder {
  std::string person_id;
  StakeholderRole role = StakeholderRole::kInformed;
  bool operator==(const Stakeholder&) const = default;
};

struct Goal {
  std::string id;
  std::string title;
  std::string description;
  Owner owner;
  std::vector<std::string> contributor_ids;
  std::vector<Stakeholder> stakeholders;
  Level level = Level::kIndividual;
  std::string cycle_id;
  std::string start_date;  // empty: the cycle's
  std::string due_date;
  std::string parent_id;
  double weight = 1.0;
  ProgressSource progress_source = ProgressSource::kKeyResults;
  Kind kind = Kind::kCommitted;
  std::string hypothesis;
  Visibility visibility = Visibility::kPublic;
  GoalState state = GoalState::kDraft;
  std::vector<std::string> tags;
  std::string approval_comment;

  // Roll-up state, kept up to date incrementally: the weighted sums of what
  // counts towards this goal's progress (see progress.h).
  double kr_weight = 0;     // sum of key result weights
  double kr_weighted = 0;   // sum of weight * clamp(progress) over key results
  double child_weight = 0;  // sum of weights of children that count
  double child_weighted = 0;  // sum of weight * progress over those children
  double progress = 0;        // in [0, 1]

  std::optional<double> score;  // frozen when the cycle closes
  Outcome outcome = Outcome::kUnspecified;
  Health last_check_in_status = Health::kUnspecified;
  int64_t last_check_in_time = 0;  // micros; 0: never

  int64_t revision = 0;
  int64_t create_time = 0;
  int64_t update_time = 0;
  int64_t activate_time = 0;  // when it last became ACTIVE (for due check-ins)
};

struct KeyResult {
  std::string id;
  std::string goal_id;
  std::string title;
  Measure measure = Measure::kNumber;
  std::string currency_code;
  Direction direction = Direction::kIncrease;
  double baseline = 0;
  double target = 0;
  std::optional<double> stretch_target;
  double current = 0;
  std::string unit;
  double weight = 1.0;
  std::string kpi;
  int64_t revision = 0;
  int64_t create_time = 0;
  int64_t update_time = 0;
};

// The author of the check-ins the system writes (CheckIn.by_system), and the
// actor of their history entries.
inline constexpr char kSystemAuthor[] = "system";

struct CheckInValue {
  std::string key_result_id;
  double value = 0;
};

struct CheckIn {
  std::string id;
  std::string goal_id;
  std::string author_id;
  // Written by the system (a key result following its KPI), not a person.
  bool by_system = false;
  std::vector<CheckInValue> values;
  double confidence = 0;
  Health status = Health::kUnspecified;
  std::string note;
  int64_t create_time = 0;
  double progress = 0;
};

struct FieldChange {
  std::string field;
  std::string old_value;
  std::string new_value;
};

struct Revision {
  std::string goal_id;
  int64_t revision = 0;
  std::string actor;
  int64_t time = 0;
  std::string reason;
  std::string target;  // "goals/{g}" or "goals/{g}/keyResults/{kr}"
  std::string
      action;  // CREATE, UPDATE, DELETE, APPROVE, RETURN, CHECK_IN, CLOSE
  std::vector<FieldChange> changes;
  // The goal right after this revision: who may read the revision is decided
  // on its owner, contributors and visibility then (ListRevisions fills it).
  std::optional<Goal> then;
};

}  // namespace sightline::goals
