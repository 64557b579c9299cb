#include "services/goals/rules.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "lib/status/status.h"
#include "services/goals/progress.h"

namespace sightline::goals {
namespace {

using status::FieldErrors;

// ------------------------------------------------------------------ text

struct TextInfo {
  bool valid_utf8 = true;
  size_t chars = 0;
  bool blank = true;          // only white space (or empty)
  bool control = false;       // a control character other than \t \n \r
  bool line_control = false;  // \t, \n or \r
};

bool IsSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B ||
         c == 0x0C || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B);
}

TextInfo Inspect(absl::string_view s) {
  TextInfo info;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    char32_t c = 0;
    size_t n = 0;
    char32_t min = 0;
    if (b < 0x80) {
      c = b;
      n = 1;
    } else if ((b & 0xE0) == 0xC0) {
      c = b & 0x1F;
      n = 2;
      min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      c = b & 0x0F;
      n = 3;
      min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      c = b & 0x07;
      n = 4;
      min = 0x10000;
    } else {
      info.valid_utf8 = false;
      return info;
    }
    if (i + n > s.size()) {
      info.valid_utf8 = false;
      return info;
    }
    for (size_t k = 1; k < n; ++k) {
      const unsigned char cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) {
        info.valid_utf8 = false;
        return info;
      }
      c = (c << 6) | (cb & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      info.valid_utf8 = false;
      return info;
    }
    i += n;
    ++info.chars;
    if (!IsSpace(c)) info.blank = false;
    if (c == '\t' || c == '\n' || c == '\r') {
      info.line_control = true;
    } else if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) {
      info.control = true;
    }
  }
  return info;
}

enum class Lines { kSingle, kMulti };

// Adds at most one violation for a text field: the first rule it breaks.
// min_chars is 0 (optional) or 1 (required, and then not blank either).
void CheckText(FieldErrors& errors, absl::string_view field,
               absl::string_view text, size_t min_chars, size_t max_chars,
               Lines lines) {
  const TextInfo info = Inspect(text);
  if (!info.valid_utf8) {
    errors.Add(field, "must be valid UTF-8");
  } else if (info.chars < min_chars || info.chars > max_chars) {
    errors.Add(field, min_chars == 0 ? absl::StrCat("must be at most ",
                                                    max_chars, " characters")
                                     : absl::StrCat("must be ", min_chars, "..",
                                                    max_chars, " characters"));
  } else if (min_chars > 0 && info.blank) {
    errors.Add(field, "must not be blank");
  } else if (info.control || (lines == Lines::kSingle && info.line_control)) {
    errors.Add(field, "must not contain control characters");
  }
}

std::string Field(absl::string_view prefix, absl::string_view name) {
  if (prefix.empty()) return std::string(name);
  return absl::StrCat(prefix, ".", name);
}

std::string Indexed(absl::string_view prefix, absl::string_view name,
                    size_t i) {
  return absl::StrCat(Field(prefix, name), "[", i, "]");
}

constexpr absl::string_view kDateRule = "must be a date YYYY-MM-DD";

// Parses an optional date; adds a violation if it is set but not a date.
std::optional<absl::CivilDay> CheckDate(FieldErrors& errors,
                                        absl::string_view field,
                                        absl::string_view date) {
  if (date.empty()) return std::nullopt;
  std::optional<absl::CivilDay> day = ParseDate(date);
  if (!day.has_value()) errors.Add(field, kDateRule);
  return day;
}

bool IsWeight(double w) { return std::isfinite(w) && w > 0 && w <= kMaxWeight; }

constexpr absl::string_view kWeightRule =
    "must be a finite number in (0, 1000]";

bool IsBinaryMeasure(Measure m) {
  return m == Measure::kBoolean || m == Measure::kMilestone;
}

bool IsKpiName(absl::string_view kpi) {
  constexpr absl::string_view kPrefix = "kpis/";
  if (kpi.size() > kMaxKpiChars || kpi.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  const absl::string_view id = kpi.substr(kPrefix.size());
  if (id.empty() || id.size() > 63) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsCurrencyCode(absl::string_view code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) {
           return c >= 'A' && c <= 'Z';
         });
}

// ------------------------------------------------------------------- diff

std::string Ref(absl::string_view collection, absl::string_view id) {
  if (id.empty()) return "";
  return absl::StrCat(collection, "/", id);
}

std::string RefList(absl::string_view collection,
                    const std::vector<std::string>& ids) {
  return absl::StrJoin(ids, ",", [&](std::string* out, const std::string& id) {
    out->append(Ref(collection, id));
  });
}

std::string OwnerName(const Owner& owner) {
  return owner.is_team() ? Ref("teams", owner.team_id)
                         : Ref("people", owner.person_id);
}

std::string StakeholderList(const std::vector<Stakeholder>& stakeholders) {
  return absl::StrJoin(
      stakeholders, ",", [](std::string* out, const Stakeholder& s) {
        absl::StrAppend(out, Ref("people", s.person_id), ":", ApiName(s.role));
      });
}

class Differ {
 public:
  void Text(absl::string_view field, const std::string& a,
            const std::string& b) {
    if (a != b) changes_.push_back({std::string(field), a, b});
  }

  // Lists compare as lists, so that ["a,b"] and ["a", "b"] differ although
  // they render alike.
  template <typename T, typename Render>
  void List(absl::string_view field, const std::vector<T>& a,
            const std::vector<T>& b, Render render) {
    if (a != b) changes_.push_back({std::string(field), render(a), render(b)});
  }

  template <typename E>
  void Enum(absl::string_view field, E a, E b) {
    if (a != b) {
      changes_.push_back({std::string(field), std::string(ApiName(a)),
                          std::string(ApiName(b))});
    }
  }

  void Number(absl::string_view field, std::optional<double> a,
              std::optional<double> b) {
    if (Same(a, b)) return;
    std::string sa = Render(a, "%g");
    std::string sb = Render(b, "%g");
    if (sa == sb) {
      sa = Render(a, "%.17g");
      sb = Render(b, "%.17g");
    }
    changes_.push_back({std::string(field), std::move(sa), std::move(sb)});
  }

  std::vector<FieldChange> Take() { return std::move(changes_); }

 private:
  static bool Same(std::optional<double> a, std::optional<double> b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a.has_value()) return true;
    if (std::isnan(*a) && std::isnan(*b)) return true;
    return *a == *b;
  }

  static std::string Render(std::optional<double> v,
                            const absl::FormatSpec<double>& format) {
    if (!v.has_value()) return "";
    return absl::StrFormat(format, *v);
  }

  std::vector<FieldChange> changes_;
};

template <typename E, size_t N>
absl::string_view Lookup(E v, absl::string_view unspecified,
                         const absl::string_view (&names)[N]) {
  const int i = static_cast<int>(v);
  if (i < 1 || i > static_cast<int>(N)) return unspecified;
  return names[i - 1];
}

}  // namespace

// ------------------------------------------------------------------ enums

absl::string_view ApiName(CycleState v) {
  static constexpr absl::string_view kNames[] = {"PLANNING", "ACTIVE",
                                                 "CLOSED"};
  return Lookup(v, "STATE_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Level v) {
  static constexpr absl::string_view kNames[] = {"COMPANY", "TEAM",
                                                 "INDIVIDUAL"};
  return Lookup(v, "LEVEL_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Health v) {
  static constexpr absl::string_view kNames[] = {"ON_TRACK", "AT_RISK",
                                                 "OFF_TRACK"};
  return Lookup(v, "HEALTH_UNSPECIFIED", kNames);
}
absl::string_view ApiName(ProgressSource v) {
  static constexpr absl::string_view kNames[] = {"KEY_RESULTS", "CHILDREN",
                                                 "BOTH"};
  return Lookup(v, "PROGRESS_SOURCE_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Kind v) {
  static constexpr absl::string_view kNames[] = {"COMMITTED", "STRETCH",
                                                 "EXPERIMENT"};
  return Lookup(v, "KIND_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Visibility v) {
  static constexpr absl::string_view kNames[] = {"PUBLIC", "TEAM", "PRIVATE"};
  return Lookup(v, "VISIBILITY_UNSPECIFIED", kNames);
}
absl::string_view ApiName(GoalState v) {
  static constexpr absl::string_view kNames[] = {
      "DRAFT",     "PENDING_APPROVAL", "ACTIVE",
      "COMPLETED", "CANCELLED",        "ARCHIVED"};
  return Lookup(v, "STATE_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Outcome v) {
  static constexpr absl::string_view kNames[] = {"ACHIEVED", "MISSED",
                                                 "CONCLUDED"};
  return Lookup(v, "OUTCOME_UNSPECIFIED", kNames);
}
absl::string_view ApiName(StakeholderRole v) {
  static constexpr absl::string_view kNames[] = {"CONSULTED", "INFORMED"};
  return Lookup(v, "ROLE_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Measure v) {
  static constexpr absl::string_view kNames[] = {
      "NUMBER", "PERCENT", "CURRENCY", "BOOLEAN", "MILESTONE"};
  return Lookup(v, "MEASURE_UNSPECIFIED", kNames);
}
absl::string_view ApiName(Direction v) {
  static constexpr absl::string_view kNames[] = {"INCREASE", "DECREASE",
                                                 "STAY_ABOVE", "STAY_BELOW"};
  return Lookup(v, "DIRECTION_UNSPECIFIED", kNames);
}

namespace {
template <typename E>
bool InRange(E v, int last) {
  const int i = static_cast<int>(v);
  return i >= 1 && i <= last;
}
}  // namespace

bool IsValid(Level v) { return InRange(v, 3); }
bool IsValid(ProgressSource v) { return InRange(v, 3); }
bool IsValid(Kind v) { return InRange(v, 3); }
bool IsValid(Visibility v) { return InRange(v, 3); }
bool IsValid(GoalState v) { return InRange(v, 6); }
bool IsValid(StakeholderRole v) { return InRange(v, 2); }
bool IsValid(Measure v) { return InRange(v, 5); }
bool IsValid(Direction v) { return InRange(v, 4); }

// ------------------------------------------------------------- validation

absl::Status ValidateCycle(const Cycle& cycle) {
  FieldErrors errors;
  CheckText(errors, "cycle.display_name", cycle.display_name, 1,
            kMaxCycleNameChars, Lines::kSingle);
  const std::optional<absl::CivilDay> start = ParseDate(cycle.start_date);
  const std::optional<absl::CivilDay> end = ParseDate(cycle.end_date);
  if (!start.has_value()) errors.Add("cycle.start_date", kDateRule);
  if (!end.has_value()) errors.Add("cycle.end_date", kDateRule);
  if (start.has_value() && end.has_value() && *end < *start) {
    errors.Add("cycle.end_date", "must not be before cycle.start_date");
  }
  return errors.Build();
}

absl::Status ValidateGoal(const Goal& goal, absl::string_view prefix) {
  FieldErrors errors;
  const auto f = [&](absl::string_view name) { return Field(prefix, name); };

  CheckText(errors, f("title"), goal.title, 1, kMaxTitleChars, Lines::kSingle);
  CheckText(errors, f("description"), goal.description, 0, kMaxDescriptionChars,
            Lines::kMulti);

  if (goal.owner.person_id.empty() == goal.owner.team_id.empty()) {
    errors.Add(f("owner"), "must be exactly one person or one team");
  }
  if (goal.cycle_id.empty()) errors.Add(f("cycle"), "is required");

  if (!IsValid(goal.level)) {
    errors.Add(f("level"), "must be COMPANY, TEAM or INDIVIDUAL");
  }
  if (!IsValid(goal.kind)) {
    errors.Add(f("kind"), "must be COMMITTED, STRETCH or EXPERIMENT");
  }
  if (!IsValid(goal.visibility)) {
    errors.Add(f("visibility"), "must be PUBLIC, TEAM or PRIVATE");
  }
  if (!IsValid(goal.progress_source)) {
    errors.Add(f("progress_source"), "must be KEY_RESULTS, CHILDREN or BOTH");
  }
  if (!IsValid(goal.state)) errors.Add(f("state"), "must be a valid state");
  if (!IsWeight(goal.weight)) errors.Add(f("weight"), kWeightRule);

  if (goal.kind == Kind::kExperiment) {
    if (goal.hypothesis.empty()) {
      errors.Add(f("hypothesis"), "is required for an EXPERIMENT");
    } else {
      CheckText(errors, f("hypothesis"), goal.hypothesis, 1,
                kMaxHypothesisChars, Lines::kMulti);
    }
  } else {
    CheckText(errors, f("hypothesis"), goal.hypothesis, 0, kMaxHypothesisChars,
              Lines::kMulti);
  }

  if (goal.tags.size() > kMaxTags) {
    errors.Add(f("tags"), absl::StrCat("must be at most ", kMaxTags, " tags"));
  } else {
    absl::flat_hash_map<absl::string_view, size_t> seen;
    for (size_t i = 0; i < goal.tags.size(); ++i) {
      const std::string field = Indexed(prefix, "tags", i);
      const size_t before = errors.size();
      CheckText(errors, field, goal.tags[i], 1, kMaxTagChars, Lines::kSingle);
      if (errors.size() != before) continue;
      auto [it, inserted] = seen.emplace(goal.tags[i], i);
      if (!inserted) {
        errors.Add(field, absl::StrCat("duplicates ",
                                       Indexed(prefix, "tags", it->second)));
      }
    }
  }

  // One role per person: the owner, a contributor or a stakeholder.
  absl::flat_hash_map<absl::string_view, size_t> contributors;
  if (goal.contributor_ids.size() > kMaxContributors) {
    errors.Add(f("contributors"),
               absl::StrCat("must be at most ", kMaxContributors, " people"));
  } else {
    for (size_t i = 0; i < goal.contributor_ids.size(); ++i) {
      const std::string& id = goal.contributor_ids[i];
      const std::string field = Indexed(prefix, "contributors", i);
      if (id.empty()) {
        errors.Add(field, "must be a person");
        continue;
      }
      if (id == goal.owner.person_id) {
        errors.Add(field, "must not be the owner");
        continue;
      }
      auto [it, inserted] = contributors.emplace(id, i);
      if (!inserted) {
        errors.Add(field,
                   absl::StrCat("duplicates ",
                                Indexed(prefix, "contributors", it->second)));
      }
    }
  }
  if (goal.stakeholders.size() > kMaxStakeholders) {
    errors.Add(f("stakeholders"),
               absl::StrCat("must be at most ", kMaxStakeholders, " people"));
  } else {
    absl::flat_hash_map<absl::string_view, size_t> seen;
    for (size_t i = 0; i < goal.stakeholders.size(); ++i) {
      const Stakeholder& s = goal.stakeholders[i];
      const std::string field = Indexed(prefix, "stakeholders", i);
      if (!IsValid(s.role)) {
        errors.Add(absl::StrCat(field, ".role"),
                   "must be CONSULTED or INFORMED");
      }
      const std::string person = absl::StrCat(field, ".person");
      if (s.person_id.empty()) {
        errors.Add(person, "must be a person");
      } else if (s.person_id == goal.owner.person_id) {
        errors.Add(person, "must not be the owner");
      } else if (auto c = contributors.find(s.person_id);
                 c != contributors.end()) {
        errors.Add(person,
                   absl::StrCat("is already ",
                                Indexed(prefix, "contributors", c->second)));
      } else if (auto [it, inserted] = seen.emplace(s.person_id, i);
                 !inserted) {
        errors.Add(person,
                   absl::StrCat("duplicates ",
                                Indexed(prefix, "stakeholders", it->second)));
      }
    }
  }

  const std::optional<absl::CivilDay> start =
      CheckDate(errors, f("start_date"), goal.start_date);
  const std::optional<absl::CivilDay> due =
      CheckDate(errors, f("due_date"), goal.due_date);
  if (start.has_value() && due.has_value() && *due < *start) {
    errors.Add(f("due_date"),
               absl::StrCat("must not be before ", f("start_date")));
  }

  CheckText(errors, f("approval_comment"), goal.approval_comment, 0,
            kMaxCommentChars, Lines::kMulti);
  return errors.Build();
}

absl::Status ValidateKeyResult(const KeyResult& kr, absl::string_view prefix) {
  FieldErrors errors;
  const auto f = [&](absl::string_view name) { return Field(prefix, name); };

  CheckText(errors, f("title"), kr.title, 1, kMaxTitleChars, Lines::kSingle);

  const bool measure_ok = IsValid(kr.measure);
  if (!measure_ok) {
    errors.Add(f("measure"),
               "must be NUMBER, PERCENT, CURRENCY, BOOLEAN or MILESTONE");
  }
  const bool binary = IsBinaryMeasure(kr.measure);
  bool direction_ok = IsValid(kr.direction);
  if (binary && kr.direction != Direction::kIncrease) {
    errors.Add(f("direction"),
               absl::StrCat("must be INCREASE for a ", ApiName(kr.measure),
                            " key result"));
    direction_ok = false;
  } else if (!direction_ok) {
    errors.Add(f("direction"),
               "must be INCREASE, DECREASE, STAY_ABOVE or STAY_BELOW");
  }

  if (kr.measure == Measure::kCurrency) {
    if (!IsCurrencyCode(kr.currency_code)) {
      errors.Add(f("currency_code"),
                 "must be an ISO 4217 code of three upper-case letters");
    }
  } else if (!kr.currency_code.empty()) {
    errors.Add(f("currency_code"), "must be empty unless measure is CURRENCY");
  }

  constexpr absl::string_view kFinite = "must be a finite number";
  const bool baseline_ok = std::isfinite(kr.baseline);
  const bool target_ok = std::isfinite(kr.target);
  if (!baseline_ok) errors.Add(f("baseline"), kFinite);
  if (!target_ok) errors.Add(f("target"), kFinite);
  if (!std::isfinite(kr.current)) errors.Add(f("current"), kFinite);
  if (!IsWeight(kr.weight)) errors.Add(f("weight"), kWeightRule);

  if (binary) {
    const absl::string_view measure = ApiName(kr.measure);
    if (baseline_ok && kr.baseline != 0) {
      errors.Add(f("baseline"),
                 absl::StrCat("must be 0 for a ", measure, " key result"));
    }
    if (target_ok && kr.target != 1) {
      errors.Add(f("target"),
                 absl::StrCat("must be 1 for a ", measure, " key result"));
    }
    if (kr.stretch_target.has_value()) {
      errors.Add(f("stretch_target"),
                 absl::StrCat("must be unset for a ", measure, " key result"));
    }
  } else if (measure_ok && direction_ok) {
    if (baseline_ok && target_ok) {
      if (kr.direction == Direction::kIncrease && !(kr.target > kr.baseline)) {
        errors.Add(f("target"), "must be greater than baseline for INCREASE");
      }
      if (kr.direction == Direction::kDecrease && !(kr.target < kr.baseline)) {
        errors.Add(f("target"), "must be less than baseline for DECREASE");
      }
    }
    if (kr.stretch_target.has_value()) {
      const double stretch = *kr.stretch_target;
      const bool up = kr.direction == Direction::kIncrease ||
                      kr.direction == Direction::kStayAbove;
      if (!std::isfinite(stretch)) {
        errors.Add(f("stretch_target"), kFinite);
      } else if (target_ok && up && !(stretch > kr.target)) {
        errors.Add(f("stretch_target"),
                   absl::StrCat("must be greater than target for ",
                                ApiName(kr.direction)));
      } else if (target_ok && !up && !(stretch < kr.target)) {
        errors.Add(f("stretch_target"),
                   absl::StrCat("must be less than target for ",
                                ApiName(kr.direction)));
      }
    }
  }

  CheckText(errors, f("unit"), kr.unit, 0, kMaxUnitChars, Lines::kSingle);
  if (!kr.kpi.empty() && !IsKpiName(kr.kpi)) {
    errors.Add(f("kpi"), "must be kpis/{id} with an id of 1..63 [a-z0-9-]");
  }
  return errors.Build();
}

void ApplyKeyResultDefaults(KeyResult* kr) {
  // An unset weight (0 on the wire) is the documented default of 1.
  if (kr->weight == 0) kr->weight = 1;
  if (!IsBinaryMeasure(kr->measure)) return;
  if (!IsValid(kr->direction)) kr->direction = Direction::kIncrease;
  if (kr->baseline == 0 && kr->target == 0) kr->target = 1;
}

// -------------------------------------------------------------- alignment

Window GoalWindow(const Goal& goal, const Cycle& cycle) {
  return Window{
      goal.start_date.empty() ? cycle.start_date : goal.start_date,
      goal.due_date.empty() ? cycle.end_date : goal.due_date,
  };
}

absl::Status CheckParentAcceptsChildren(const Goal& parent) {
  if (parent.state == GoalState::kCancelled ||
      parent.state == GoalState::kArchived) {
    return status::WithErrorInfo(
        absl::FailedPreconditionError(
            absl::StrCat("goal.parent: a ", ApiName(parent.state),
                         " goal takes no new children")),
        "PARENT_CLOSED",
        {{"parent_state", std::string(ApiName(parent.state))}});
  }
  return absl::OkStatus();
}

absl::Status CheckAlignment(
    const Goal& child, const Cycle& child_cycle, const Goal* parent,
    const Cycle* parent_cycle,
    const std::vector<std::string>& parent_ancestor_ids) {
  if (child.level == Level::kCompany && !child.parent_id.empty()) {
    return status::InvalidField("goal.parent",
                                "must be empty for a COMPANY goal");
  }
  if (parent == nullptr) {
    if (!child.parent_id.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "goal.parent: ", Ref("goals", child.parent_id), " not found"));
    }
  } else if (parent_cycle == nullptr || parent->id != child.parent_id) {
    return absl::InternalError(
        "CheckAlignment: parent without its cycle, or not the child's parent");
  }

  FieldErrors errors;
  if (parent != nullptr && !child.id.empty() &&
      (child.id == parent->id ||
       std::find(parent_ancestor_ids.begin(), parent_ancestor_ids.end(),
                 child.id) != parent_ancestor_ids.end())) {
    errors.Add("goal.parent", "would make the goal its own ancestor");
  }

  const std::optional<absl::CivilDay> cycle_start =
      ParseDate(child_cycle.start_date);
  const std::optional<absl::CivilDay> cycle_end =
      ParseDate(child_cycle.end_date);
  if (!cycle_start.has_value() || !cycle_end.has_value()) {
    return absl::InternalError(
        absl::StrCat("cycle ", child_cycle.id, " has invalid dates"));
  }
  const std::string cycle_range =
      absl::StrCat(child_cycle.start_date, "..", child_cycle.end_date);
  const std::optional<absl::CivilDay> start = ParseDate(child.start_date);
  const std::optional<absl::CivilDay> due = ParseDate(child.due_date);
  if (start.has_value() && (*start < *cycle_start || *start > *cycle_end)) {
    errors.Add("goal.start_date",
               absl::StrCat("must lie within the cycle (", cycle_range, ")"));
  }
  if (due.has_value() && (*due < *cycle_start || *due > *cycle_end)) {
    errors.Add("goal.due_date",
               absl::StrCat("must lie within the cycle (", cycle_range, ")"));
  }

  if (parent != nullptr) {
    const Window parent_window = GoalWindow(*parent, *parent_cycle);
    const std::optional<absl::CivilDay> parent_start =
        ParseDate(parent_window.start);
    const std::optional<absl::CivilDay> parent_end =
        ParseDate(parent_window.end);
    if (!parent_start.has_value() || !parent_end.has_value()) {
      return absl::InternalError(
          absl::StrCat("goal ", parent->id, " has an invalid window"));
    }
    const std::string parent_range =
        absl::StrCat(parent_window.start, "..", parent_window.end);
    // The child's effective window; an unset date is its cycle's.
    const absl::CivilDay child_start =
        child.start_date.empty() ? *cycle_start : start.value_or(*parent_start);
    const absl::CivilDay child_end =
        child.due_date.empty() ? *cycle_end : due.value_or(*parent_end);
    const bool early = child_start < *parent_start;
    const bool late = child_end > *parent_end;
    const bool cycle_early = early && child.start_date.empty();
    const bool cycle_late = late && child.due_date.empty();
    if (cycle_early || cycle_late) {
      errors.Add("goal.cycle",
                 absl::StrCat("the cycle's window (", cycle_range,
                              ") must lie within the parent's (", parent_range,
                              "); set the goal's dates or choose another "
                              "cycle"));
    }
    if (early && !cycle_early) {
      errors.Add("goal.start_date",
                 absl::StrCat("must not be before the parent's window (",
                              parent_range, ")"));
    }
    if (late && !cycle_late) {
      errors.Add("goal.due_date",
                 absl::StrCat("must not be after the parent's window (",
                              parent_range, ")"));
    }
  }
  if (!errors.empty()) return errors.Build();
  if (parent != nullptr) return CheckParentAcceptsChildren(*parent);
  return absl::OkStatus();
}

// ------------------------------------------------------------ transitions

absl::Status CheckTransition(GoalState from, GoalState to) {
  if (!IsValid(to)) {
    return status::InvalidField("goal.state", "must be a valid state");
  }
  if (from == to) return absl::OkStatus();
  using S = GoalState;
  static constexpr std::pair<S, S> kAllowed[] = {
      {S::kDraft, S::kPendingApproval}, {S::kDraft, S::kActive},
      {S::kDraft, S::kCancelled},       {S::kPendingApproval, S::kActive},
      {S::kPendingApproval, S::kDraft}, {S::kActive, S::kCompleted},
      {S::kActive, S::kCancelled},      {S::kCompleted, S::kActive},
      {S::kCompleted, S::kArchived},    {S::kCancelled, S::kArchived},
  };
  for (const auto& [a, b] : kAllowed) {
    if (a == from && b == to) return absl::OkStatus();
  }
  return status::WithErrorInfo(
      absl::FailedPreconditionError(
          absl::StrCat("cannot go from ", ApiName(from), " to ", ApiName(to))),
      "INVALID_STATE_TRANSITION",
      {{"from", std::string(ApiName(from))}, {"to", std::string(ApiName(to))}});
}

// ---------------------------------------------------------- recalibration

bool GoalFieldNeedsReason(absl::string_view field) {
  return field == "start_date" || field == "due_date" || field == "parent" ||
         field == "weight";
}

bool KeyResultFieldNeedsReason(absl::string_view field) {
  return field == "baseline" || field == "target" ||
         field == "stretch_target" || field == "weight";
}

bool GoalChangesNeedReason(const std::vector<FieldChange>& changes) {
  return std::any_of(changes.begin(), changes.end(), [](const FieldChange& c) {
    return GoalFieldNeedsReason(c.field);
  });
}

bool KeyResultChangesNeedReason(const std::vector<FieldChange>& changes) {
  return std::any_of(changes.begin(), changes.end(), [](const FieldChange& c) {
    return KeyResultFieldNeedsReason(c.field);
  });
}

absl::Status ValidateReason(absl::string_view reason, bool needed) {
  if (needed && Inspect(reason).blank) {
    return status::InvalidField(
        "reason",
        "required when changing target, baseline, weight, parent or "
        "dates");
  }
  FieldErrors errors;
  CheckText(errors, "reason", reason, needed ? 1 : 0, kMaxReasonChars,
            Lines::kMulti);
  return errors.Build();
}

// ---------------------------------------------------------------- history

std::vector<FieldChange> DiffGoals(const Goal& before, const Goal& after) {
  Differ d;
  d.Text("title", before.title, after.title);
  d.Text("description", before.description, after.description);
  d.Text("owner", OwnerName(before.owner), OwnerName(after.owner));
  d.List("contributors", before.contributor_ids, after.contributor_ids,
         [](const std::vector<std::string>& ids) {
           return RefList("people", ids);
         });
  d.List("stakeholders", before.stakeholders, after.stakeholders,
         StakeholderList);
  d.Enum("level", before.level, after.level);
  d.Text("cycle", Ref("cycles", before.cycle_id),
         Ref("cycles", after.cycle_id));
  d.Text("start_date", before.start_date, after.start_date);
  d.Text("due_date", before.due_date, after.due_date);
  d.Text("parent", Ref("goals", before.parent_id),
         Ref("goals", after.parent_id));
  d.Number("weight", before.weight, after.weight);
  d.Enum("progress_source", before.progress_source, after.progress_source);
  d.Enum("kind", before.kind, after.kind);
  d.Text("hypothesis", before.hypothesis, after.hypothesis);
  d.Enum("visibility", before.visibility, after.visibility);
  d.Enum("state", before.state, after.state);
  d.List("tags", before.tags, after.tags,
         [](const std::vector<std::string>& tags) {
           return absl::StrJoin(tags, ",");
         });
  d.Text("approval_comment", before.approval_comment, after.approval_comment);
  return d.Take();
}

std::vector<FieldChange> DiffKeyResults(const KeyResult& before,
                                        const KeyResult& after) {
  Differ d;
  d.Text("title", before.title, after.title);
  d.Enum("measure", before.measure, after.measure);
  d.Text("currency_code", before.currency_code, after.currency_code);
  d.Enum("direction", before.direction, after.direction);
  d.Number("baseline", before.baseline, after.baseline);
  d.Number("target", before.target, after.target);
  d.Number("stretch_target", before.stretch_target, after.stretch_target);
  d.Number("current", before.current, after.current);
  d.Text("unit", before.unit, after.unit);
  d.Number("weight", before.weight, after.weight);
  d.Text("kpi", before.kpi, after.kpi);
  return d.Take();
}

}  // namespace sightline::goals
