// The validation rules of rules.h: cycles, goals and key results as written,
// and the reason a recalibration needs.

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "lib/status/status.h"
#include "services/goals/progress.h"
#include "services/goals/rules.h"

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

bool IsCurrencyCode(absl::string_view code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) {
           return c >= 'A' && c <= 'Z';
         });
}

}  // namespace

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

}  // namespace sightline::goals
