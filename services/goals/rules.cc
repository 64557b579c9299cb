#include "services/goals/rules.h"

#include <algorithm>
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
