#include "services/goals/convert.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "services/goals/handler_internal.h"

namespace sightline::goals {

using google::protobuf::util::TimeUtil;
using internal::kCycleShape;
using internal::kKeyResultShape;
using internal::Micros;
using internal::OwnerOf;
using internal::ReadGoal;
using internal::ReadKeyResult;
using server::EnumOf;
using server::IdOf;
using server::kGoalShape;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;
using server::ParseInto;
using server::ParseOne;

namespace {

std::string GoalName(const std::string& id) {
  return absl::StrCat("goals/", id);
}

std::string KeyResultNameOf(const std::string& goal_id,
                            const std::string& kr_id) {
  return absl::StrCat("goals/", goal_id, "/keyResults/", kr_id);
}

bool Reads(const std::vector<std::string>* only, absl::string_view field) {
  return only == nullptr ||
         std::find(only->begin(), only->end(), field) != only->end();
}

}  // namespace

// ---- handler_internal.h -----------------------------------------------------

namespace internal {

Owner OwnerOf(absl::string_view name, absl::string_view field,
              status::FieldErrors* errors) {
  Owner owner;
  if (absl::StartsWith(name, "people/")) {
    owner.person_id = IdOf(name, kPersonShape, field, errors);
  } else if (absl::StartsWith(name, "teams/")) {
    owner.team_id = IdOf(name, kTeamShape, field, errors);
  } else {
    errors->Add(field, name.empty()
                           ? "required: people/{person} or teams/{team}"
                           : "must be people/{person} or teams/{team}");
  }
  return owner;
}

google::protobuf::Timestamp Micros(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}

Goal ReadGoal(const v1::Goal& in, absl::string_view prefix,
              const std::vector<std::string>* only,
              status::FieldErrors* errors) {
  auto field = [&](absl::string_view f) {
    return absl::StrCat(prefix, ".", f);
  };
  Goal g;
  if (Reads(only, "title")) g.title = in.title();
  if (Reads(only, "description")) g.description = in.description();
  if (Reads(only, "owner"))
    g.owner = OwnerOf(in.owner(), field("owner"), errors);
  if (Reads(only, "contributors")) {
    for (int i = 0; i < in.contributors_size(); ++i) {
      g.contributor_ids.push_back(
          IdOf(in.contributors(i), kPersonShape,
               field(absl::StrCat("contributors[", i, "]")), errors));
    }
  }
  if (Reads(only, "stakeholders")) {
    for (int i = 0; i < in.stakeholders_size(); ++i) {
      const auto& s = in.stakeholders(i);
      std::string at = field(absl::StrCat("stakeholders[", i, "]"));
      Stakeholder out;
      out.person_id =
          IdOf(s.person(), kPersonShape, absl::StrCat(at, ".person"), errors);
      out.role =
          EnumOf<StakeholderRole>(s.role(), v1::Stakeholder::Role_descriptor(),
                                  absl::StrCat(at, ".role"), errors);
      g.stakeholders.push_back(std::move(out));
    }
  }
  if (Reads(only, "level")) {
    g.level = EnumOf<Level>(in.level(), v1::Level_descriptor(), field("level"),
                            errors);
  }
  if (Reads(only, "cycle")) {
    g.cycle_id = OptionalIdOf(in.cycle(), kCycleShape, field("cycle"), errors);
  }
  if (Reads(only, "start_date")) g.start_date = in.start_date();
  if (Reads(only, "due_date")) g.due_date = in.due_date();
  if (Reads(only, "parent")) {
    g.parent_id =
        OptionalIdOf(in.parent(), kGoalShape, field("parent"), errors);
  }
  if (Reads(only, "weight")) g.weight = in.weight();
  if (Reads(only, "progress_source")) {
    g.progress_source = EnumOf<ProgressSource>(
        in.progress_source(), v1::Goal::ProgressSource_descriptor(),
        field("progress_source"), errors);
  }
  if (Reads(only, "kind")) {
    g.kind = EnumOf<Kind>(in.kind(), v1::Goal::Kind_descriptor(), field("kind"),
                          errors);
  }
  if (Reads(only, "hypothesis")) g.hypothesis = in.hypothesis();
  if (Reads(only, "visibility")) {
    g.visibility =
        EnumOf<Visibility>(in.visibility(), v1::Goal::Visibility_descriptor(),
                           field("visibility"), errors);
  }
  if (Reads(only, "state")) {
    g.state = EnumOf<GoalState>(in.state(), v1::Goal::State_descriptor(),
                                field("state"), errors);
  }
  if (Reads(only, "tags")) g.tags.assign(in.tags().begin(), in.tags().end());
  return g;
}

KeyResult ReadKeyResult(const v1::KeyResult& in, absl::string_view prefix,
                        const std::vector<std::string>* only,
                        status::FieldErrors* errors) {
  auto field = [&](absl::string_view f) {
    return absl::StrCat(prefix, ".", f);
  };
  KeyResult k;
  if (Reads(only, "title")) k.title = in.title();
  if (Reads(only, "measure")) {
    k.measure =
        EnumOf<Measure>(in.measure(), v1::KeyResult::Measure_descriptor(),
                        field("measure"), errors);
  }
  if (Reads(only, "currency_code")) k.currency_code = in.currency_code();
  if (Reads(only, "direction")) {
    k.direction =
        EnumOf<Direction>(in.direction(), v1::KeyResult::Direction_descriptor(),
                          field("direction"), errors);
  }
  if (Reads(only, "baseline")) k.baseline = in.baseline();
  if (Reads(only, "target")) k.target = in.target();
  if (Reads(only, "stretch_target") && in.has_stretch_target()) {
    k.stretch_target = in.stretch_target();
  }
  if (Reads(only, "current")) k.current = in.current();
  if (Reads(only, "unit")) k.unit = in.unit();
  if (Reads(only, "weight")) k.weight = in.weight();
  if (Reads(only, "kpi")) k.kpi = in.kpi();
  return k;
}

}  // namespace internal

// ---- convert.h --------------------------------------------------------------

absl::StatusOr<std::string> ParseCycleName(absl::string_view name,
                                           absl::string_view field) {
  return ParseOne(name, kCycleShape, field);
}

absl::StatusOr<std::string> ParseGoalName(absl::string_view name,
                                          absl::string_view field) {
  return ParseOne(name, kGoalShape, field);
}

absl::StatusOr<std::string> ParsePersonName(absl::string_view name,
                                            absl::string_view field) {
  return ParseOne(name, kPersonShape, field);
}

absl::StatusOr<std::string> ParseTeamName(absl::string_view name,
                                          absl::string_view field) {
  return ParseOne(name, kTeamShape, field);
}

absl::StatusOr<KeyResultName> ParseKeyResultName(absl::string_view name,
                                                 absl::string_view field) {
  status::FieldErrors errors;
  std::vector<std::string> ids;
  if (!ParseInto(name, kKeyResultShape, field, &ids, &errors)) {
    return errors.Build();
  }
  KeyResultName out;
  out.goal_id = std::move(ids[0]);
  out.key_result_id = std::move(ids[1]);
  return out;
}

absl::StatusOr<Owner> ParseOwner(absl::string_view name,
                                 absl::string_view field) {
  status::FieldErrors errors;
  Owner owner = OwnerOf(name, field, &errors);
  if (!errors.empty()) return errors.Build();
  return owner;
}

std::string OwnerName(const Owner& owner) {
  if (owner.is_team()) return absl::StrCat("teams/", owner.team_id);
  if (!owner.person_id.empty()) return absl::StrCat("people/", owner.person_id);
  return "";
}

absl::StatusOr<Goal> GoalFromProto(const v1::Goal& in, absl::string_view prefix,
                                   const std::vector<std::string>* only) {
  status::FieldErrors errors;
  Goal g = ReadGoal(in, prefix, only, &errors);
  if (!errors.empty()) return errors.Build();
  return g;
}

absl::StatusOr<KeyResult> KeyResultFromProto(
    const v1::KeyResult& in, absl::string_view prefix,
    const std::vector<std::string>* only) {
  status::FieldErrors errors;
  KeyResult k = ReadKeyResult(in, prefix, only, &errors);
  if (!errors.empty()) return errors.Build();
  return k;
}

absl::StatusOr<CheckIn> CheckInFromProto(const v1::CheckIn& in,
                                         const std::string& goal_id) {
  status::FieldErrors errors;
  CheckIn c;
  c.goal_id = goal_id;
  for (int i = 0; i < in.values_size(); ++i) {
    std::string field = absl::StrCat("check_in.values[", i, "].key_result");
    std::vector<std::string> ids;
    CheckInValue v;
    v.value = in.values(i).value();
    if (ParseInto(in.values(i).key_result(), kKeyResultShape, field, &ids,
                  &errors)) {
      if (ids[0] != goal_id) {
        errors.Add(field,
                   absl::StrCat("must be a key result of goals/", goal_id));
      }
      v.key_result_id = std::move(ids[1]);
    }
    c.values.push_back(std::move(v));
  }
  c.confidence = in.confidence();
  c.status = EnumOf<Health>(in.status(), v1::Health_descriptor(),
                            "check_in.status", &errors);
  c.note = in.note();
  if (!errors.empty()) return errors.Build();
  return c;
}

absl::StatusOr<Cycle> CycleFromProto(const v1::Cycle& in) {
  status::FieldErrors errors;
  Cycle c;
  c.display_name = in.display_name();
  c.start_date = in.start_date();
  c.end_date = in.end_date();
  c.state = EnumOf<CycleState>(in.state(), v1::Cycle::State_descriptor(),
                               "cycle.state", &errors);
  if (!errors.empty()) return errors.Build();
  return c;
}

absl::StatusOr<std::optional<absl::Time>> ParseAsOf(
    const v1::GetGoalRequest& req, absl::Time now) {
  if (!req.has_as_of()) return std::optional<absl::Time>();
  const auto& ts = req.as_of();
  if (ts.seconds() < TimeUtil::kTimestampMinSeconds ||
      ts.seconds() > TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return status::InvalidField("as_of", "is not a valid timestamp");
  }
  absl::Time t =
      absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  if (t > now)
    return status::InvalidField("as_of", "must not be in the future");
  return std::optional<absl::Time>(t);
}

void ToProto(const GoalView& v, absl::string_view etag, v1::Goal* out) {
  const Goal& g = v.goal;
  out->set_name(GoalName(g.id));
  out->set_title(g.title);
  out->set_description(g.description);
  out->set_owner(OwnerName(g.owner));
  for (const auto& c : g.contributor_ids) {
    out->add_contributors(absl::StrCat("people/", c));
  }
  for (const auto& s : g.stakeholders) {
    auto* o = out->add_stakeholders();
    o->set_person(absl::StrCat("people/", s.person_id));
    o->set_role(static_cast<v1::Stakeholder::Role>(static_cast<int>(s.role)));
  }
  out->set_level(static_cast<v1::Level>(static_cast<int>(g.level)));
  if (!g.cycle_id.empty()) out->set_cycle(absl::StrCat("cycles/", g.cycle_id));
  out->set_start_date(g.start_date);
  out->set_due_date(g.due_date);
  if (!g.parent_id.empty()) out->set_parent(GoalName(g.parent_id));
  out->set_weight(g.weight);
  out->set_progress_source(static_cast<v1::Goal::ProgressSource>(
      static_cast<int>(g.progress_source)));
  out->set_kind(static_cast<v1::Goal::Kind>(static_cast<int>(g.kind)));
  out->set_hypothesis(g.hypothesis);
  out->set_visibility(
      static_cast<v1::Goal::Visibility>(static_cast<int>(g.visibility)));
  out->set_state(static_cast<v1::Goal::State>(static_cast<int>(g.state)));
  for (const auto& t : g.tags) out->add_tags(t);
  out->set_progress(g.progress);
  out->set_expected_progress(v.expected_progress);
  out->set_health(static_cast<v1::Health>(static_cast<int>(v.health)));
  if (g.score.has_value()) out->set_score(*g.score);
  out->set_outcome(static_cast<v1::Goal::Outcome>(static_cast<int>(g.outcome)));
  out->set_last_check_in_status(
      static_cast<v1::Health>(static_cast<int>(g.last_check_in_status)));
  if (g.last_check_in_time != 0) {
    *out->mutable_last_check_in_time() = Micros(g.last_check_in_time);
  }
  out->set_etag(std::string(etag));
  out->set_revision(g.revision);
  if (g.create_time != 0) *out->mutable_create_time() = Micros(g.create_time);
  if (g.update_time != 0) *out->mutable_update_time() = Micros(g.update_time);
  out->set_approval_comment(g.approval_comment);
}

void ToProto(const KeyResult& k, absl::string_view etag, v1::KeyResult* out) {
  out->set_name(KeyResultNameOf(k.goal_id, k.id));
  out->set_title(k.title);
  out->set_measure(
      static_cast<v1::KeyResult::Measure>(static_cast<int>(k.measure)));
  out->set_currency_code(k.currency_code);
  out->set_direction(
      static_cast<v1::KeyResult::Direction>(static_cast<int>(k.direction)));
  out->set_baseline(k.baseline);
  out->set_target(k.target);
  if (k.stretch_target.has_value()) out->set_stretch_target(*k.stretch_target);
  out->set_current(k.current);
  out->set_unit(k.unit);
  out->set_weight(k.weight);
  out->set_kpi(k.kpi);
  out->set_progress(KeyResultProgress(k));
  out->set_etag(std::string(etag));
  out->set_revision(k.revision);
  if (k.create_time != 0) *out->mutable_create_time() = Micros(k.create_time);
  if (k.update_time != 0) *out->mutable_update_time() = Micros(k.update_time);
}

void ToProto(const CheckIn& c, v1::CheckIn* out) {
  out->set_name(absl::StrCat("goals/", c.goal_id, "/checkIns/", c.id));
  if (c.by_system) {
    out->set_author(kSystemAuthor);
  } else if (!c.author_id.empty()) {
    out->set_author(absl::StrCat("people/", c.author_id));
  }
  for (const auto& v : c.values) {
    auto* o = out->add_values();
    o->set_key_result(KeyResultNameOf(c.goal_id, v.key_result_id));
    o->set_value(v.value);
  }
  out->set_confidence(c.confidence);
  out->set_status(static_cast<v1::Health>(static_cast<int>(c.status)));
  out->set_note(c.note);
  if (c.create_time != 0) *out->mutable_create_time() = Micros(c.create_time);
  out->set_progress(c.progress);
}

void ToProto(const Cycle& c, absl::string_view etag, v1::Cycle* out) {
  out->set_name(absl::StrCat("cycles/", c.id));
  out->set_display_name(c.display_name);
  out->set_start_date(c.start_date);
  out->set_end_date(c.end_date);
  out->set_state(static_cast<v1::Cycle::State>(static_cast<int>(c.state)));
  out->set_etag(std::string(etag));
  if (c.create_time != 0) *out->mutable_create_time() = Micros(c.create_time);
  if (c.update_time != 0) *out->mutable_update_time() = Micros(c.update_time);
  if (c.close_time != 0) *out->mutable_close_time() = Micros(c.close_time);
}

void ToProto(const Revision& r, v1::GoalRevision* out) {
  out->set_name(absl::StrCat("goals/", r.goal_id, "/revisions/", r.revision));
  out->set_revision(r.revision);
  out->set_actor(r.actor);
  if (r.time != 0) *out->mutable_time() = Micros(r.time);
  out->set_reason(r.reason);
  out->set_target(r.target);
  out->set_action(r.action);
  for (const auto& c : r.changes) {
    auto* o = out->add_changes();
    o->set_field(c.field);
    o->set_old_value(c.old_value);
    o->set_new_value(c.new_value);
  }
}

void ToProto(const TreeNode& n, v1::AlignmentNode* out) {
  out->set_name(GoalName(n.id));
  if (!n.parent_id.empty()) out->set_parent(GoalName(n.parent_id));
  out->set_depth(n.depth);
  if (n.restricted || n.goal == nullptr) {
    // Nothing of a goal the caller may not read, beyond where it sits.
    out->set_restricted(true);
    return;
  }
  out->set_title(n.goal->title);
  out->set_owner(OwnerName(n.goal->owner));
  out->set_level(static_cast<v1::Level>(static_cast<int>(n.goal->level)));
  out->set_state(static_cast<v1::Goal::State>(static_cast<int>(n.goal->state)));
  out->set_progress(n.goal->progress);
  out->set_expected_progress(n.expected_progress);
  out->set_health(static_cast<v1::Health>(static_cast<int>(n.health)));
  out->set_weight(n.goal->weight);
}

}  // namespace sightline::goals
