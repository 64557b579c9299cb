#include "lib/org/directory_org.h"

#include "absl/strings/str_cat.h"
#include "lib/status/status.h"

namespace sightline::org {

std::optional<PersonInfo> DirectoryOrg::Person(const std::string& id) const {
  auto p = dir_->Person(id);
  if (!p.has_value()) return std::nullopt;
  return PersonInfo{p->id, p->team_id, p->manager_id, p->active()};
}

std::optional<TeamInfo> DirectoryOrg::Team(const std::string& id) const {
  auto t = dir_->Team(id);
  if (!t.has_value()) return std::nullopt;
  return TeamInfo{t->id, t->parent_id, t->lead_id};
}

absl::StatusOr<Caller> DirectoryOrg::ResolveCaller(
    const auth::Principal& principal, bool fresh) {
  Caller c;
  c.hr_admin = principal.HasRole(auth::Role::kHrAdmin);
  c.service = principal.IsService();
  if (auto id = dir_->ResolveSubject(principal.subject); id.has_value()) {
    c.person_id = *id;
    return c;
  }
  if (!fresh || c.service) return c;
  // Someone the replica does not know yet (a new hire): ask the directory.
  auto p = dir_->FetchBySubject(principal.subject);
  if (p.ok()) {
    c.person_id = p->id;
  } else if (p.status().code() != absl::StatusCode::kNotFound &&
             p.status().code() != absl::StatusCode::kInvalidArgument) {
    return p.status();
  }
  return c;
}

absl::Status DirectoryOrg::ValidatePeople(
    const std::vector<std::string>& ids,
    const std::vector<std::string>& fields) {
  return dir_->ValidatePeople(ids, fields);
}

absl::Status DirectoryOrg::ValidateTeam(const std::string& team_id,
                                        const std::string& field) {
  auto t = dir_->FetchTeam(team_id);
  if (t.ok()) return absl::OkStatus();
  if (t.status().code() == absl::StatusCode::kNotFound) {
    return status::InvalidField(
        field, absl::StrCat("teams/", team_id, " does not exist"));
  }
  return t.status();
}

absl::StatusOr<std::vector<std::string>> DirectoryOrg::FreshManagementChain(
    const std::string& person_id) {
  return dir_->FetchReportingChain(person_id);
}

std::vector<std::string> DirectoryOrg::TeamMembers(
    const std::string& team_id) const {
  return dir_->TeamMembers(team_id, /*subteams=*/true);
}

std::vector<std::string> DirectoryOrg::Reports(const std::string& manager_id,
                                               bool all_levels) const {
  return dir_->Reports(manager_id, all_levels);
}

}  // namespace sightline::org
