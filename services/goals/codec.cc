#include "services/goals/codec.h"

namespace sightline::goals {

void ToRecord(const Cycle& c, store::CycleRecord* r) {
  r->set_id(c.id);
  r->set_display_name(c.display_name);
  r->set_start_date(c.start_date);
  r->set_end_date(c.end_date);
  r->set_state(static_cast<int>(c.state));
  r->set_revision(c.revision);
  r->set_create_time(c.create_time);
  r->set_update_time(c.update_time);
  r->set_close_time(c.close_time);
}

void FromRecord(const store::CycleRecord& r, Cycle* c) {
  c->id = r.id();
  c->display_name = r.display_name();
  c->start_date = r.start_date();
  c->end_date = r.end_date();
  c->state = static_cast<CycleState>(r.state());
  c->revision = r.revision();
  c->create_time = r.create_time();
  c->update_time = r.update_time();
  c->close_time = r.close_time();
}

void ToRecord(const Goal& g, store::GoalRecord* r) {
  r->set_id(g.id);
  r->set_title(g.title);
  r->set_description(g.description);
  r->set_owner_person_id(g.owner.person_id);
  r->set_owner_team_id(g.owner.team_id);
  for (const auto& c : g.contributor_ids) r->add_contributor_ids(c);
  for (const auto& s : g.stakeholders) {
    auto* sr = r->add_stakeholders();
    sr->set_person_id(s.person_id);
    sr->set_role(static_cast<int>(s.role));
  }
  r->set_level(static_cast<int>(g.level));
  r->set_cycle_id(g.cycle_id);
  r->set_start_date(g.start_date);
  r->set_due_date(g.due_date);
  r->set_parent_id(g.parent_id);
  r->set_weight(g.weight);
  r->set_progress_source(static_cast<int>(g.progress_source));
  r->set_kind(static_cast<int>(g.kind));
  r->set_hypothesis(g.hypothesis);
  r->set_visibility(static_cast<int>(g.visibility));
  r->set_state(static_cast<int>(g.state));
  for (const auto& t : g.tags) r->add_tags(t);
  r->set_approval_comment(g.approval_comment);
  r->set_kr_weight(g.kr_weight);
  r->set_kr_weighted(g.kr_weighted);
  r->set_child_weight(g.child_weight);
  r->set_child_weighted(g.child_weighted);
  r->set_progress(g.progress);
  if (g.score.has_value()) r->set_score(*g.score);
  r->set_outcome(static_cast<int>(g.outcome));
  r->set_last_check_in_status(static_cast<int>(g.last_check_in_status));
  r->set_last_check_in_time(g.last_check_in_time);
  r->set_revision(g.revision);
  r->set_create_time(g.create_time);
  r->set_update_time(g.update_time);
  r->set_activate_time(g.activate_time);
}

void FromRecord(const store::GoalRecord& r, Goal* g) {
  g->id = r.id();
  g->title = r.title();
  g->description = r.description();
  g->owner.person_id = r.owner_person_id();
  g->owner.team_id = r.owner_team_id();
  g->contributor_ids.assign(r.contributor_ids().begin(),
                            r.contributor_ids().end());
  g->stakeholders.clear();
  for (const auto& s : r.stakeholders()) {
    g->stakeholders.push_back(
        {s.person_id(), static_cast<StakeholderRole>(s.role())});
  }
  g->level = static_cast<Level>(r.level());
  g->cycle_id = r.cycle_id();
  g->start_date = r.start_date();
  g->due_date = r.due_date();
  g->parent_id = r.parent_id();
  g->weight = r.weight();
  g->progress_source = static_cast<ProgressSource>(r.progress_source());
  g->kind = static_cast<Kind>(r.kind());
  g->hypothesis = r.hypothesis();
  g->visibility = static_cast<Visibility>(r.visibility());
  g->state = static_cast<GoalState>(r.state());
  g->tags.assign(r.tags().begin(), r.tags().end());
  g->approval_comment = r.approval_comment();
  g->kr_weight = r.kr_weight();
  g->kr_weighted = r.kr_weighted();
  g->child_weight = r.child_weight();
  g->child_weighted = r.child_weighted();
  g->progress = r.progress();
  g->score = r.has_score() ? std::optional<double>(r.score()) : std::nullopt;
  g->outcome = static_cast<Outcome>(r.outcome());
  g->last_check_in_status = static_cast<Health>(r.last_check_in_status());
  g->last_check_in_time = r.last_check_in_time();
  g->revision = r.revision();
  g->create_time = r.create_time();
  g->update_time = r.update_time();
  g->activate_time = r.activate_time();
}

void ToRecord(const KeyResult& k, store::KeyResultRecord* r) {
  r->set_id(k.id);
  r->set_goal_id(k.goal_id);
  r->set_title(k.title);
  r->set_measure(static_cast<int>(k.measure));
  r->set_currency_code(k.currency_code);
  r->set_direction(static_cast<int>(k.direction));
  r->set_baseline(k.baseline);
  r->set_target(k.target);
  if (k.stretch_target.has_value()) r->set_stretch_target(*k.stretch_target);
  r->set_current(k.current);
  r->set_unit(k.unit);
  r->set_weight(k.weight);
  r->set_kpi(k.kpi);
  r->set_revision(k.revision);
  r->set_create_time(k.create_time);
  r->set_update_time(k.update_time);
}

void FromRecord(const store::KeyResultRecord& r, KeyResult* k) {
  k->id = r.id();
  k->goal_id = r.goal_id();
  k->title = r.title();
  k->measure = static_cast<Measure>(r.measure());
  k->currency_code = r.currency_code();
  k->direction = static_cast<Direction>(r.direction());
  k->baseline = r.baseline();
  k->target = r.target();
  k->stretch_target = r.has_stretch_target()
                          ? std::optional<double>(r.stretch_target())
                          : std::nullopt;
  k->current = r.current();
  k->unit = r.unit();
  k->weight = r.weight();
  k->kpi = r.kpi();
  k->revision = r.revision();
  k->create_time = r.create_time();
  k->update_time = r.update_time();
}

void ToRecord(const CheckIn& c, store::CheckInRecord* r) {
  r->set_id(c.id);
  r->set_goal_id(c.goal_id);
  r->set_author_id(c.author_id);
  r->set_by_system(c.by_system);
  for (const auto& v : c.values) {
    auto* vr = r->add_values();
    vr->set_key_result_id(v.key_result_id);
    vr->set_value(v.value);
  }
  r->set_confidence(c.confidence);
  r->set_status(static_cast<int>(c.status));
  r->set_note(c.note);
  r->set_create_time(c.create_time);
  r->set_progress(c.progress);
}

void FromRecord(const store::CheckInRecord& r, CheckIn* c) {
  c->id = r.id();
  c->goal_id = r.goal_id();
  c->author_id = r.author_id();
  c->by_system = r.by_system();
  c->values.clear();
  for (const auto& v : r.values())
    c->values.push_back({v.key_result_id(), v.value()});
  c->confidence = r.confidence();
  c->status = static_cast<Health>(r.status());
  c->note = r.note();
  c->create_time = r.create_time();
  c->progress = r.progress();
}

namespace {
template <typename Model, typename Record>
std::string EncodeAs(const Model& m) {
  Record r;
  ToRecord(m, &r);
  return r.SerializeAsString();
}
template <typename Model, typename Record>
bool DecodeAs(absl::string_view bytes, Model* m) {
  Record r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return false;
  FromRecord(r, m);
  return true;
}
}  // namespace

std::string Encode(const Goal& g) {
  return EncodeAs<Goal, store::GoalRecord>(g);
}
bool Decode(absl::string_view b, Goal* g) {
  return DecodeAs<Goal, store::GoalRecord>(b, g);
}
std::string Encode(const Cycle& c) {
  return EncodeAs<Cycle, store::CycleRecord>(c);
}
bool Decode(absl::string_view b, Cycle* c) {
  return DecodeAs<Cycle, store::CycleRecord>(b, c);
}
std::string Encode(const KeyResult& k) {
  return EncodeAs<KeyResult, store::KeyResultRecord>(k);
}
bool Decode(absl::string_view b, KeyResult* k) {
  return DecodeAs<KeyResult, store::KeyResultRecord>(b, k);
}
std::string Encode(const CheckIn& c) {
  return EncodeAs<CheckIn, store::CheckInRecord>(c);
}
bool Decode(absl::string_view b, CheckIn* c) {
  return DecodeAs<CheckIn, store::CheckInRecord>(b, c);
}

}  // namespace sightline::goals
