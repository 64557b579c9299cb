#include "services/goals/goals_handler.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/wire_format_lite.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/tokens.h"
#include "services/goals/codec.h"
#include "services/goals/progress.h"
#include "services/goals/repository.h"

namespace sightline::goals {
namespace {

using google::protobuf::util::TimeUtil;

using server::EnumOf;
using server::FinishPage;
using server::IdOf;
using server::kGoalShape;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;
using server::Paging;
using server::ParseInto;
using server::ParseOne;
using server::Shape;
using server::StartPage;
using server::TokenFor;

constexpr Shape kCycleShape{"cycles", "", "cycles/{cycle}"};
constexpr Shape kKeyResultShape{"goals", "keyResults",
                                "goals/{goal}/keyResults/{key_result}"};
constexpr int kMaxNodesPerChunk = 1000;

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

std::string GoalName(const std::string& id) {
  return absl::StrCat("goals/", id);
}

std::string KeyResultNameOf(const std::string& goal_id,
                            const std::string& kr_id) {
  return absl::StrCat("goals/", goal_id, "/keyResults/", kr_id);
}

// ---- conversions
// ---------------------------------------------------------------

google::protobuf::Timestamp Micros(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}

bool Reads(const std::vector<std::string>* only, absl::string_view field) {
  return only == nullptr ||
         std::find(only->begin(), only->end(), field) != only->end();
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

// The fields a BatchCreateGoals template carries: all but the owner, which is
// set per person.
const std::vector<std::string>& TemplateFields() {
  static const auto* f = new std::vector<std::string>{
      "title",      "description", "contributors",    "stakeholders",
      "level",      "cycle",       "start_date",      "due_date",
      "parent",     "weight",      "progress_source", "kind",
      "hypothesis", "visibility",  "state",           "tags"};
  return *f;
}

// ---- streams
// ---------------------------------------------------------------------

using server::FailedWriter;

// Computes an alignment tree on a worker, then writes it chunk by chunk.
class TreeWriter : public grpc::ServerWriteReactor<v1::AlignmentTreeChunk> {
 public:
  TreeWriter(server::Runtime* runtime, GoalsService* service, Caller caller,
             TreeRoot root, int depth)
      : runtime_(runtime),
        service_(service),
        caller_(std::move(caller)),
        root_(std::move(root)),
        depth_(depth) {
    absl::MutexLock lock(&mu_);
    ++refs_;
    if (!runtime_->executor().TrySubmit([this] { Compute(); })) {
      --refs_;
      FinishLocked(server::Runtime::Overloaded());
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    chunks_[next_ - 1].Clear();  // written: no need to hold it any longer
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by client"));
  }

  void OnDone() override { Unref(); }

 private:
  void Compute() {
    bool finished;
    {
      absl::MutexLock lock(&mu_);
      finished = finished_;
    }
    if (!finished) {
      auto nodes = service_->AlignmentTree(caller_, root_, depth_);
      std::vector<v1::AlignmentTreeChunk> chunks;
      if (nodes.ok()) chunks = ChunkNodes(*nodes, kMaxNodesPerChunk);
      absl::MutexLock lock(&mu_);
      if (!nodes.ok()) {
        if (!finished_) FinishLocked(runtime_->Finish(nodes.status()));
      } else {
        chunks_ = std::move(chunks);
        PumpLocked();
      }
    }
    Unref();
  }

  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    if (next_ < chunks_.size()) {
      writing_ = true;
      StartWrite(&chunks_[next_++]);
      return;
    }
    FinishLocked(grpc::Status::OK);
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  void Unref() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

  server::Runtime* runtime_;
  GoalsService* service_;
  const Caller caller_;
  const TreeRoot root_;
  const int depth_;
  absl::Mutex mu_;
  int refs_ ABSL_GUARDED_BY(mu_) = 1;  // gRPC's, dropped in OnDone
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<v1::AlignmentTreeChunk> chunks_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

// ---- pure parts
// ----------------------------------------------------------------------

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
  if (!c.author_id.empty())
    out->set_author(absl::StrCat("people/", c.author_id));
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

std::vector<v1::AlignmentTreeChunk> ChunkNodes(
    const std::vector<TreeNode>& nodes, int max_nodes) {
  std::vector<v1::AlignmentTreeChunk> chunks;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i % static_cast<size_t>(max_nodes) == 0) chunks.emplace_back();
    ToProto(nodes[i], chunks.back().add_nodes());
  }
  return chunks;
}

absl::StatusOr<std::optional<v1::WatchGoalsResponse>> RenderChange(
    GoalsService& service, const Caller& caller, const storage::ChangeRow& row,
    const std::string& resume_token) {
  using Out = std::optional<v1::WatchGoalsResponse>;
  if (!v1::WatchGoalsResponse::ChangeType_IsValid(row.kind) || row.kind == 0) {
    return absl::DataLossError(
        absl::StrCat("change ", row.seq, " has kind ", row.kind));
  }
  v1::WatchGoalsResponse out;
  out.set_change_type(
      static_cast<v1::WatchGoalsResponse::ChangeType>(row.kind));
  *out.mutable_commit_time() = Micros(row.commit_time_micros);
  out.set_resume_token(resume_token);
  // Key results and check-ins are visible with the goal they belong to.
  auto goal_visible = [&]() -> absl::StatusOr<bool> {
    auto goal = service.GoalForWatch(row.scope);
    if (goal.status().code() == absl::StatusCode::kNotFound) return false;
    if (!goal.ok()) return goal.status();
    return service.CanSee(caller, *goal);
  };
  if (row.entity == kGoalEntity) {
    Goal g;
    if (!Decode(row.payload, &g)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    if (!service.CanSee(caller, g)) return Out();
    ToProto(service.View(g), service.Etag(g), out.mutable_goal());
  } else if (row.entity == kKeyResultEntity) {
    KeyResult k;
    if (!Decode(row.payload, &k)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    auto visible = goal_visible();
    if (!visible.ok()) return visible.status();
    if (!*visible) return Out();
    ToProto(k, service.Etag(k), out.mutable_key_result());
  } else if (row.entity == kCheckInEntity) {
    CheckIn c;
    if (!Decode(row.payload, &c)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    auto visible = goal_visible();
    if (!visible.ok()) return visible.status();
    if (!*visible) return Out();
    ToProto(c, out.mutable_check_in());
  } else if (row.entity == kCycleEntity) {
    Cycle c;
    if (!Decode(row.payload, &c)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    ToProto(c, service.Etag(c), out.mutable_cycle());
  } else {
    return Out();
  }
  return Out(std::move(out));
}

// ---- the handler
// ---------------------------------------------------------------------

GoalsHandler::GoalsHandler(server::Runtime* runtime, GoalsService* service,
                           ResolveCaller resolve,
                           server::ChangeStreamDeps watch)
    : runtime_(runtime),
      service_(service),
      resolve_(std::move(resolve)),
      watch_(std::move(watch)) {}

absl::StatusOr<Caller> GoalsHandler::CallerOf(const server::CallContext& call,
                                              bool fresh) const {
  return resolve_(call.principal, fresh);
}

void GoalsHandler::Render(const GoalView& v, v1::Goal* out) const {
  ToProto(v, service_->Etag(v.goal), out);
}

void GoalsHandler::Render(const KeyResult& k, v1::KeyResult* out) const {
  ToProto(k, service_->Etag(k), out);
}

void GoalsHandler::Render(const Cycle& c, v1::Cycle* out) const {
  ToProto(c, service_->Etag(c), out);
}

// ---- cycles ----

grpc::ServerUnaryReactor* GoalsHandler::CreateCycle(
    grpc::CallbackServerContext* ctx, const v1::CreateCycleRequest* req,
    v1::Cycle* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf("CreateCycle", call.principal.subject,
                                          *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto cycle = CycleFromProto(req->cycle());
        if (!cycle.ok()) return cycle.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateCycle(*caller, std::move(*cycle), *idem);
        if (!made.ok()) return made.status();
        Render(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::GetCycle(
    grpc::CallbackServerContext* ctx, const v1::GetCycleRequest* req,
    v1::Cycle* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseCycleName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto c = service_->GetCycle(*caller, *id);
        if (!c.ok()) return c.status();
        Render(*c, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListCycles(
    grpc::CallbackServerContext* ctx, const v1::ListCyclesRequest* req,
    v1::ListCyclesResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        int state = static_cast<int>(EnumOf<CycleState>(
            req->state(), v1::Cycle::State_descriptor(), "state", &errors));
        if (!errors.empty()) return errors.Build();
        std::string filters = absl::StrCat(state);
        auto paging = StartPage(runtime_->tokens(), "ListCycles", filters,
                                req->page_size(), req->page_token(), true);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto cycles = service_->ListCycles(*caller, state, paging->page);
        if (!cycles.ok()) return cycles.status();
        resp->set_next_page_token(
            FinishPage(runtime_->tokens(), "ListCycles", filters, *paging,
                       &*cycles, [](const Cycle& c) { return c.id; }));
        for (const auto& c : *cycles) Render(c, resp->add_cycles());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::CloseCycle(
    grpc::CallbackServerContext* ctx, const v1::CloseCycleRequest* req,
    v1::Cycle* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseCycleName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto c = service_->CloseCycle(*caller, *id, req->etag());
        if (!c.ok()) return c.status();
        Render(*c, resp);
        return absl::OkStatus();
      });
}

// ---- goals ----

grpc::ServerUnaryReactor* GoalsHandler::CreateGoal(
    grpc::CallbackServerContext* ctx, const v1::CreateGoalRequest* req,
    v1::Goal* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf("CreateGoal", call.principal.subject,
                                          *req, req->request_id());
        if (!idem.ok()) return idem.status();
        status::FieldErrors errors;
        Goal goal = ReadGoal(req->goal(), "goal", nullptr, &errors);
        std::vector<KeyResult> krs;
        for (int i = 0; i < req->key_results_size(); ++i) {
          krs.push_back(ReadKeyResult(req->key_results(i),
                                      absl::StrCat("key_results[", i, "]"),
                                      nullptr, &errors));
        }
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateGoal(*caller, std::move(goal),
                                         std::move(krs), *idem);
        if (!made.ok()) return made.status();
        Render(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::BatchCreateGoals(
    grpc::CallbackServerContext* ctx, const v1::BatchCreateGoalsRequest* req,
    v1::BatchCreateGoalsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem =
            server::IdempotencyOf("BatchCreateGoals", call.principal.subject,
                                  *req, req->request_id());
        if (!idem.ok()) return idem.status();
        status::FieldErrors errors;
        Audience audience = Audience::kTeam;
        std::string audience_id;
        switch (req->audience_case()) {
          case v1::BatchCreateGoalsRequest::kTeam:
            audience_id = IdOf(req->team(), kTeamShape, "team", &errors);
            break;
          case v1::BatchCreateGoalsRequest::kManager:
            audience = Audience::kDirectReports;
            audience_id =
                IdOf(req->manager(), kPersonShape, "manager", &errors);
            break;
          default:
            errors.Add("audience", "set team or manager");
        }
        Goal templ =
            ReadGoal(req->template_(), "template", &TemplateFields(), &errors);
        std::vector<KeyResult> krs;
        for (int i = 0; i < req->key_results_size(); ++i) {
          krs.push_back(ReadKeyResult(req->key_results(i),
                                      absl::StrCat("key_results[", i, "]"),
                                      nullptr, &errors));
        }
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->BatchCreateGoals(*caller, std::move(templ),
                                               std::move(krs), audience,
                                               audience_id, *idem);
        if (!made.ok()) return made.status();
        for (const auto& v : *made) Render(v, resp->add_goals());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::GetGoal(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req_bytes,
    grpc::ByteBuffer* resp) {
  // Warm reads of the current version are answered from memory on the gRPC
  // thread: the goal's bytes are rendered once per cached version, without
  // the fields that depend on the time of the read (expected progress and
  // health), which follow them as a second, small message. Protobuf parses
  // concatenated messages as one, each field taken from where it appears.
  // History (as_of) needs the database.
  auto fast =
      [this, req_bytes,
       resp](const server::CallContext& call) -> std::optional<absl::Status> {
    v1::GetGoalRequest req;
    if (auto st = server::ParseRaw(*req_bytes, &req); !st.ok()) return st;
    auto id = ParseGoalName(req.name(), "name");
    if (!id.ok()) return id.status();
    auto as_of = ParseAsOf(req, absl::Now());
    if (!as_of.ok()) return as_of.status();
    if (as_of->has_value()) return std::nullopt;
    auto caller = CallerOf(call, /*fresh=*/false);
    if (!caller.ok()) return caller.status();
    auto v = service_->PeekGoal(*caller, *id);
    if (!v.has_value()) return std::nullopt;
    if (!v->ok()) return v->status();
    const std::string& timeless = (*v)->entry->Rendered([this](const Goal& g) {
      GoalView view;
      view.goal = g;  // expected progress and health left unset
      v1::Goal m;
      Render(view, &m);
      return m.SerializeAsString();
    });
    // The two fields as a v1::Goal would serialize them, written in place.
    uint8_t timed[32];
    uint8_t* end = timed;
    using google::protobuf::internal::WireFormatLite;
    if ((*v)->expected_progress != 0) {
      end = WireFormatLite::WriteDoubleToArray(
          v1::Goal::kExpectedProgressFieldNumber, (*v)->expected_progress, end);
    }
    if ((*v)->health != Health::kUnspecified) {
      end = WireFormatLite::WriteEnumToArray(
          v1::Goal::kHealthFieldNumber, static_cast<int>((*v)->health), end);
    }
    server::SetRaw(
        {timeless, absl::string_view(reinterpret_cast<char*>(timed),
                                     static_cast<size_t>(end - timed))},
        resp);
    return absl::OkStatus();
  };
  auto slow = [this, req_bytes,
               resp](const server::CallContext& call) -> absl::Status {
    v1::GetGoalRequest req;
    if (auto st = server::ParseRaw(*req_bytes, &req); !st.ok()) return st;
    auto id = ParseGoalName(req.name(), "name");
    if (!id.ok()) return id.status();
    auto as_of = ParseAsOf(req, absl::Now());
    if (!as_of.ok()) return as_of.status();
    auto caller = CallerOf(call, /*fresh=*/false);
    if (!caller.ok()) return caller.status();
    auto v = service_->GetGoal(*caller, *id, *as_of);
    if (!v.ok()) return v.status();
    v1::Goal m;
    Render(*v, &m);
    server::SetRaw(m.SerializeAsString(), resp);
    return absl::OkStatus();
  };
  return runtime_->Unary(ctx, fast, slow);
}

grpc::ServerUnaryReactor* GoalsHandler::ListGoals(
    grpc::CallbackServerContext* ctx, const v1::ListGoalsRequest* req,
    v1::ListGoalsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        GoalFilter f;
        if (!req->owner().empty()) {
          Owner owner = OwnerOf(req->owner(), "owner", &errors);
          f.owner_person_id = owner.person_id;
          f.owner_team_id = owner.team_id;
        }
        f.team_id = OptionalIdOf(req->team(), kTeamShape, "team", &errors);
        f.cycle_id = OptionalIdOf(req->cycle(), kCycleShape, "cycle", &errors);
        f.parent_id =
            OptionalIdOf(req->parent(), kGoalShape, "parent", &errors);
        f.state = static_cast<int>(EnumOf<GoalState>(
            req->state(), v1::Goal::State_descriptor(), "state", &errors));
        f.health = EnumOf<Health>(req->health(), v1::Health_descriptor(),
                                  "health", &errors);
        if (!errors.empty()) return errors.Build();
        std::string filters =
            absl::StrCat(f.owner_person_id, "|", f.owner_team_id, "|",
                         f.team_id, "|", f.cycle_id, "|", f.parent_id, "|",
                         f.state, "|", static_cast<int>(f.health));
        auto paging = StartPage(runtime_->tokens(), "ListGoals", filters,
                                req->page_size(), req->page_token(), false);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto goals = service_->ListGoals(*caller, f, paging->page, &next);
        if (!goals.ok()) return goals.status();
        for (const auto& v : *goals) Render(v, resp->add_goals());
        resp->set_next_page_token(
            TokenFor(runtime_->tokens(), "ListGoals", filters, next));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::UpdateGoal(
    grpc::CallbackServerContext* ctx, const v1::UpdateGoalRequest* req,
    v1::Goal* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string id =
            IdOf(req->goal().name(), kGoalShape, "goal.name", &errors);
        std::vector<std::string> mask(req->update_mask().paths().begin(),
                                      req->update_mask().paths().end());
        Goal patch = ReadGoal(req->goal(), "goal", &mask, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto v = service_->UpdateGoal(*caller, id, patch, mask,
                                      req->goal().etag(), req->reason());
        if (!v.ok()) return v.status();
        Render(*v, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::DeleteGoal(
    grpc::CallbackServerContext* ctx, const v1::DeleteGoalRequest* req,
    google::protobuf::Empty* /*resp*/) {
  return runtime_->Unary(
      ctx, [this, req](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        return service_->DeleteGoal(*caller, *id, req->etag());
      });
}

template <typename Request>
grpc::ServerUnaryReactor* GoalsHandler::Decide(grpc::CallbackServerContext* ctx,
                                               const Request* req,
                                               v1::Goal* resp, bool approve) {
  return runtime_->Unary(
      ctx,
      [this, req, resp,
       approve](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto v = approve ? service_->ApproveGoal(*caller, *id, req->etag(),
                                                 req->comment())
                         : service_->ReturnGoal(*caller, *id, req->etag(),
                                                req->comment());
        if (!v.ok()) return v.status();
        Render(*v, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ApproveGoal(
    grpc::CallbackServerContext* ctx, const v1::ApproveGoalRequest* req,
    v1::Goal* resp) {
  return Decide(ctx, req, resp, /*approve=*/true);
}

grpc::ServerUnaryReactor* GoalsHandler::ReturnGoal(
    grpc::CallbackServerContext* ctx, const v1::ReturnGoalRequest* req,
    v1::Goal* resp) {
  return Decide(ctx, req, resp, /*approve=*/false);
}

// ---- key results ----

grpc::ServerUnaryReactor* GoalsHandler::CreateKeyResult(
    grpc::CallbackServerContext* ctx, const v1::CreateKeyResultRequest* req,
    v1::KeyResult* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf(
            "CreateKeyResult", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        status::FieldErrors errors;
        std::string goal_id =
            IdOf(req->parent(), kGoalShape, "parent", &errors);
        // The server chooses the id; a name sent anyway must fit the parent.
        if (!req->key_result().name().empty()) {
          std::vector<std::string> ids;
          if (ParseInto(req->key_result().name(), kKeyResultShape,
                        "key_result.name", &ids, &errors) &&
              !goal_id.empty() && ids[0] != goal_id) {
            errors.Add("key_result.name",
                       absl::StrCat("must be a key result of ", req->parent()));
          }
        }
        KeyResult kr =
            ReadKeyResult(req->key_result(), "key_result", nullptr, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateKeyResult(*caller, goal_id, std::move(kr),
                                              req->reason(), *idem);
        if (!made.ok()) return made.status();
        Render(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::UpdateKeyResult(
    grpc::CallbackServerContext* ctx, const v1::UpdateKeyResultRequest* req,
    v1::KeyResult* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::vector<std::string> ids;
        ParseInto(req->key_result().name(), kKeyResultShape, "key_result.name",
                  &ids, &errors);
        std::vector<std::string> mask(req->update_mask().paths().begin(),
                                      req->update_mask().paths().end());
        KeyResult patch =
            ReadKeyResult(req->key_result(), "key_result", &mask, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto k =
            service_->UpdateKeyResult(*caller, ids[0], ids[1], patch, mask,
                                      req->key_result().etag(), req->reason());
        if (!k.ok()) return k.status();
        Render(*k, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::DeleteKeyResult(
    grpc::CallbackServerContext* ctx, const v1::DeleteKeyResultRequest* req,
    google::protobuf::Empty* /*resp*/) {
  return runtime_->Unary(
      ctx, [this, req](const server::CallContext& call) -> absl::Status {
        auto name = ParseKeyResultName(req->name(), "name");
        if (!name.ok()) return name.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        return service_->DeleteKeyResult(*caller, name->goal_id,
                                         name->key_result_id, req->etag(),
                                         req->reason());
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListKeyResults(
    grpc::CallbackServerContext* ctx, const v1::ListKeyResultsRequest* req,
    v1::ListKeyResultsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->parent(), "parent");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto krs = service_->ListKeyResults(*caller, *id);
        if (!krs.ok()) return krs.status();
        for (const auto& k : *krs) Render(k, resp->add_key_results());
        return absl::OkStatus();
      });
}

// ---- check-ins ----

grpc::ServerUnaryReactor* GoalsHandler::CreateCheckIn(
    grpc::CallbackServerContext* ctx, const v1::CreateCheckInRequest* req,
    v1::CheckIn* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf(
            "CreateCheckIn", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto goal_id = ParseGoalName(req->parent(), "parent");
        if (!goal_id.ok()) return goal_id.status();
        auto check_in = CheckInFromProto(req->check_in(), *goal_id);
        if (!check_in.ok()) return check_in.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateCheckIn(*caller, *goal_id,
                                            std::move(*check_in), *idem);
        if (!made.ok()) return made.status();
        ToProto(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListCheckIns(
    grpc::CallbackServerContext* ctx, const v1::ListCheckInsRequest* req,
    v1::ListCheckInsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->parent(), "parent");
        if (!id.ok()) return id.status();
        auto paging = StartPage(runtime_->tokens(), "ListCheckIns", *id,
                                req->page_size(), req->page_token(), true);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto check_ins = service_->ListCheckIns(*caller, *id, paging->page);
        if (!check_ins.ok()) return check_ins.status();
        resp->set_next_page_token(
            FinishPage(runtime_->tokens(), "ListCheckIns", *id, *paging,
                       &*check_ins, [](const CheckIn& c) {
                         return absl::StrCat(c.create_time, "/", c.id);
                       }));
        for (const auto& c : *check_ins) ToProto(c, resp->add_check_ins());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListDueCheckIns(
    grpc::CallbackServerContext* ctx, const v1::ListDueCheckInsRequest* req,
    v1::ListDueCheckInsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string person_id, manager_id;
        switch (req->subject_case()) {
          case v1::ListDueCheckInsRequest::kPerson:
            person_id = IdOf(req->person(), kPersonShape, "person", &errors);
            break;
          case v1::ListDueCheckInsRequest::kManager:
            manager_id = IdOf(req->manager(), kPersonShape, "manager", &errors);
            break;
          default:
            errors.Add("subject", "set person or manager");
        }
        if (!errors.empty()) return errors.Build();
        std::string filters =
            absl::StrCat(person_id, "|", manager_id, "|", req->cadence_days());
        auto paging = StartPage(runtime_->tokens(), "ListDueCheckIns", filters,
                                req->page_size(), req->page_token(), false);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto due =
            service_->ListDueCheckIns(*caller, person_id, manager_id,
                                      req->cadence_days(), paging->page, &next);
        if (!due.ok()) return due.status();
        for (const auto& d : *due) {
          auto* out = resp->add_due();
          Render(d.goal, out->mutable_goal());
          out->set_days_since(d.days_since);
        }
        resp->set_next_page_token(
            TokenFor(runtime_->tokens(), "ListDueCheckIns", filters, next));
        return absl::OkStatus();
      });
}

// ---- history, trees ----

grpc::ServerUnaryReactor* GoalsHandler::ListGoalRevisions(
    grpc::CallbackServerContext* ctx, const v1::ListGoalRevisionsRequest* req,
    v1::ListGoalRevisionsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->parent(), "parent");
        if (!id.ok()) return id.status();
        auto paging = StartPage(runtime_->tokens(), "ListGoalRevisions", *id,
                                req->page_size(), req->page_token(), true);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto revisions = service_->ListRevisions(*caller, *id, paging->page);
        if (!revisions.ok()) return revisions.status();
        resp->set_next_page_token(FinishPage(
            runtime_->tokens(), "ListGoalRevisions", *id, *paging, &*revisions,
            [](const Revision& r) { return absl::StrCat(r.revision); }));
        for (const auto& r : *revisions) ToProto(r, resp->add_revisions());
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::AlignmentTreeChunk>*
GoalsHandler::GetAlignmentTree(grpc::CallbackServerContext* ctx,
                               const v1::GetAlignmentTreeRequest* req) {
  using Failed = FailedWriter<v1::AlignmentTreeChunk>;
  auto principal = runtime_->Authenticate(ctx);
  if (!principal.ok()) return new Failed(status::ToGrpc(principal.status()));
  status::FieldErrors errors;
  TreeRoot root;
  switch (req->root_case()) {
    case v1::GetAlignmentTreeRequest::kGoal:
      root.kind = TreeRoot::Kind::kGoal;
      root.id = IdOf(req->goal(), kGoalShape, "goal", &errors);
      break;
    case v1::GetAlignmentTreeRequest::kTeam:
      root.kind = TreeRoot::Kind::kTeam;
      root.id = IdOf(req->team(), kTeamShape, "team", &errors);
      break;
    case v1::GetAlignmentTreeRequest::kPerson:
      root.kind = TreeRoot::Kind::kPerson;
      root.id = IdOf(req->person(), kPersonShape, "person", &errors);
      break;
    case v1::GetAlignmentTreeRequest::kCompany:
      root.kind = TreeRoot::Kind::kCompany;
      if (!req->company()) errors.Add("company", "must be true when set");
      break;
    default:
      errors.Add("root", "set goal, team, person or company");
  }
  if (req->root_case() != v1::GetAlignmentTreeRequest::ROOT_NOT_SET &&
      root.kind != TreeRoot::Kind::kGoal && req->cycle().empty()) {
    errors.Add("cycle", "required with team, person and company");
  } else {
    root.cycle_id = OptionalIdOf(req->cycle(), kCycleShape, "cycle", &errors);
  }
  if (!errors.empty()) return new Failed(status::ToGrpc(errors.Build()));
  auto caller = resolve_(*principal, /*fresh=*/false);
  if (!caller.ok()) return new Failed(runtime_->Finish(caller.status()));
  return new TreeWriter(runtime_, service_, std::move(*caller), std::move(root),
                        req->depth());
}

grpc::ServerUnaryReactor* GoalsHandler::GetGoalLineage(
    grpc::CallbackServerContext* ctx, const v1::GetGoalLineageRequest* req,
    v1::GetGoalLineageResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto nodes = service_->Lineage(*caller, *id);
        if (!nodes.ok()) return nodes.status();
        for (const auto& n : *nodes) ToProto(n, resp->add_nodes());
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::WatchGoalsResponse>* GoalsHandler::WatchGoals(
    grpc::CallbackServerContext* ctx, const v1::WatchGoalsRequest* req) {
  using Failed = FailedWriter<v1::WatchGoalsResponse>;
  // The caller is resolved once; the stream authenticates the call itself.
  auto principal = runtime_->Authenticate(ctx);
  if (!principal.ok()) return new Failed(status::ToGrpc(principal.status()));
  auto caller = resolve_(*principal, /*fresh=*/false);
  if (!caller.ok()) return new Failed(runtime_->Finish(caller.status()));
  GoalsService* service = service_;
  auto render = [service, caller = std::move(*caller)](
                    const storage::ChangeRow& row, const std::string& token) {
    return RenderChange(*service, caller, row, token);
  };
  return server::ChangeStream<v1::WatchGoalsResponse>::Start(
      watch_, ctx, req->resume_token(), render);
}

}  // namespace sightline::goals
