#include "services/people/convert.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"

namespace sightline::people {
namespace {

absl::StatusOr<std::string> ParseName(absl::string_view name,
                                      absl::string_view prefix,
                                      absl::string_view field,
                                      absl::string_view shape) {
  absl::string_view id = name;
  if (name.empty()) return status::InvalidField(field, "must not be empty");
  if (!absl::ConsumePrefix(&id, prefix) || !server::IsId(id)) {
    return status::InvalidField(field, absl::StrCat("must look like ", shape));
  }
  return std::string(id);
}

v1::SyncPeopleResponse::Change::Kind ToProto(ChangeAction a) {
  switch (a) {
    case ChangeAction::kCreated:
      return v1::SyncPeopleResponse::Change::CREATED;
    case ChangeAction::kUpdated:
      return v1::SyncPeopleResponse::Change::UPDATED;
    case ChangeAction::kTerminated:
      return v1::SyncPeopleResponse::Change::TERMINATED;
  }
  return v1::SyncPeopleResponse::Change::KIND_UNSPECIFIED;
}

void ToProto(const Counts& c, v1::SyncPeopleResponse::Counts* out) {
  out->set_created(c.created);
  out->set_updated(c.updated);
  out->set_terminated(c.terminated);
  out->set_unchanged(c.unchanged);
}

}  // namespace

absl::StatusOr<std::string> ParsePersonName(absl::string_view name,
                                            absl::string_view field) {
  return ParseName(name, "people/", field, "people/{person}");
}

absl::StatusOr<std::string> ParseTeamName(absl::string_view name,
                                          absl::string_view field) {
  return ParseName(name, "teams/", field, "teams/{team}");
}

void ToProto(const Person& p, v1::Person* out) {
  out->set_name(absl::StrCat("people/", p.id));
  out->set_external_id(p.external_id);
  out->set_email(p.email);
  out->set_display_name(p.display_name);
  out->set_title(p.title);
  if (!p.team_id.empty()) out->set_team(absl::StrCat("teams/", p.team_id));
  if (!p.manager_id.empty())
    out->set_manager(absl::StrCat("people/", p.manager_id));
  out->set_status(static_cast<v1::Person::Status>(static_cast<int>(p.status)));
  out->set_start_date(p.start_date);
  out->set_end_date(p.end_date);
  for (const auto& r : p.roles) out->add_roles(r);
  out->set_etag(storage::Etag(out->name(), p.revision));
  *out->mutable_create_time() = Micros(p.create_time);
  *out->mutable_update_time() = Micros(p.update_time);
}

std::string RenderPerson(const Person& p) {
  v1::Person m;
  ToProto(p, &m);
  return m.SerializeAsString();
}

void ToProto(const Team& t, v1::Team* out) {
  out->set_name(absl::StrCat("teams/", t.id));
  out->set_external_id(t.external_id);
  out->set_display_name(t.display_name);
  if (!t.parent_id.empty())
    out->set_parent(absl::StrCat("teams/", t.parent_id));
  if (!t.lead_id.empty()) out->set_lead(absl::StrCat("people/", t.lead_id));
  out->set_etag(storage::Etag(out->name(), t.revision));
  *out->mutable_create_time() = Micros(t.create_time);
  *out->mutable_update_time() = Micros(t.update_time);
}

absl::StatusOr<std::string> OptionalPersonName(absl::string_view name,
                                               absl::string_view field) {
  if (name.empty()) return std::string();
  return ParsePersonName(name, field);
}

google::protobuf::Timestamp Micros(int64_t us) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(us);
}

PersonRecord RecordOf(int index, v1::PersonRecord* r) {
  PersonRecord p;
  p.index = index;
  p.external_id = std::move(*r->mutable_external_id());
  p.email = std::move(*r->mutable_email());
  p.display_name = std::move(*r->mutable_display_name());
  p.title = std::move(*r->mutable_title());
  p.team_external_id = std::move(*r->mutable_team_external_id());
  p.manager_external_id = std::move(*r->mutable_manager_external_id());
  p.status = r->status();
  p.start_date = std::move(*r->mutable_start_date());
  p.end_date = std::move(*r->mutable_end_date());
  p.roles.assign(r->roles().begin(), r->roles().end());
  p.source_row = r->source_row();
  return p;
}

TeamRecord RecordOf(int index, v1::TeamRecord* r) {
  TeamRecord t;
  t.index = index;
  t.external_id = std::move(*r->mutable_external_id());
  t.display_name = std::move(*r->mutable_display_name());
  t.parent_external_id = std::move(*r->mutable_parent_external_id());
  t.lead_external_id = std::move(*r->mutable_lead_external_id());
  t.source_row = r->source_row();
  return t;
}

void ToProto(const SyncPlan& plan, bool dry_run, v1::SyncPeopleResponse* r) {
  r->set_applied(!dry_run);
  ToProto(plan.people, r->mutable_people());
  ToProto(plan.teams, r->mutable_teams());
  for (const auto& d : plan.details) {
    auto* c = r->add_changes();
    c->set_kind(ToProto(d.action));
    if (!(dry_run && d.action == ChangeAction::kCreated)) {
      c->set_name(absl::StrCat(d.is_team ? "teams/" : "people/", d.id));
    }
    c->set_external_id(d.external_id);
    for (const auto& f : d.fields) {
      auto* fc = c->add_fields();
      fc->set_field(f.field);
      fc->set_old_value(f.old_value);
      fc->set_new_value(f.new_value);
    }
  }
}

}  // namespace sightline::people
