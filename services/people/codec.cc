#include "services/people/codec.h"

#include "services/people/people_store.pb.h"

namespace sightline::people {

std::string EncodePerson(const Person& p) {
  store::PersonRow r;
  r.set_id(p.id);
  r.set_external_id(p.external_id);
  r.set_email(p.email);
  r.set_display_name(p.display_name);
  r.set_title(p.title);
  r.set_team_id(p.team_id);
  r.set_manager_id(p.manager_id);
  r.set_status(static_cast<int>(p.status));
  r.set_start_date(p.start_date);
  r.set_end_date(p.end_date);
  for (const auto& role : p.roles) r.add_roles(role);
  r.set_revision(p.revision);
  r.set_create_time(p.create_time);
  r.set_update_time(p.update_time);
  return r.SerializeAsString();
}

bool DecodePerson(absl::string_view bytes, Person* p) {
  store::PersonRow r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return false;
  p->id = r.id();
  p->external_id = r.external_id();
  p->email = r.email();
  p->display_name = r.display_name();
  p->title = r.title();
  p->team_id = r.team_id();
  p->manager_id = r.manager_id();
  p->status = static_cast<PersonStatus>(r.status());
  p->start_date = r.start_date();
  p->end_date = r.end_date();
  p->roles.assign(r.roles().begin(), r.roles().end());
  p->revision = r.revision();
  p->create_time = r.create_time();
  p->update_time = r.update_time();
  return true;
}

std::string EncodeTeam(const Team& t) {
  store::TeamRow r;
  r.set_id(t.id);
  r.set_external_id(t.external_id);
  r.set_display_name(t.display_name);
  r.set_parent_id(t.parent_id);
  r.set_lead_id(t.lead_id);
  r.set_revision(t.revision);
  r.set_create_time(t.create_time);
  r.set_update_time(t.update_time);
  return r.SerializeAsString();
}

bool DecodeTeam(absl::string_view bytes, Team* t) {
  store::TeamRow r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return false;
  t->id = r.id();
  t->external_id = r.external_id();
  t->display_name = r.display_name();
  t->parent_id = r.parent_id();
  t->lead_id = r.lead_id();
  t->revision = r.revision();
  t->create_time = r.create_time();
  t->update_time = r.update_time();
  return true;
}

}  // namespace sightline::people
