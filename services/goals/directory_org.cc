#include "services/goals/directory_org.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"

namespace sightline::goals {

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
  std::vector<std::string> unique;
  absl::flat_hash_map<std::string, bool> seen;
  for (const auto& id : ids) {
    if (!seen.contains(id)) unique.push_back(id);
    seen[id] = true;
  }
  auto found = dir_->FetchPeople(unique);
  absl::flat_hash_map<std::string, directory::PersonEntry> by_id;
  if (found.ok()) {
    for (auto& p : *found) by_id[p.id] = p;
  } else if (found.status().code() == absl::StatusCode::kNotFound) {
    // The batch is all or nothing: find out which ones exist, one by one.
    for (const auto& id : unique) {
      auto p = dir_->FetchBySubject(absl::StrCat("people/", id));
      if (p.ok()) {
        by_id[p->id] = *p;
      } else if (p.status().code() != absl::StatusCode::kNotFound) {
        return p.status();
      }
    }
  } else {
    return found.status();
  }
  status::FieldErrors errors;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = by_id.find(ids[i]);
    const std::string& field = i < fields.size() ? fields[i] : "person";
    if (it == by_id.end()) {
      errors.Add(field, absl::StrCat("people/", ids[i], " does not exist"));
    } else if (!it->second.active()) {
      errors.Add(field,
                 absl::StrCat("people/", ids[i], " has left the organization"));
    }
  }
  return errors.Build();
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

}  // namespace sightline::goals
