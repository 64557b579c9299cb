#include "services/feedback/directory_org.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sightline::feedback {

std::vector<std::string> DirectoryOrg::Chain(
    const std::string& person_id) const {
  // The same walk as org::ManagementChain, under one lock of the replica.
  return dir_->ManagementChain(person_id);
}

std::string DirectoryOrg::TeamOf(const std::string& person_id) const {
  auto p = org_.Person(person_id);
  return p.has_value() ? p->team_id : "";
}

std::string DirectoryOrg::ManagerOf(const std::string& person_id) const {
  auto p = org_.Person(person_id);
  return p.has_value() ? p->manager_id : "";
}

std::vector<std::string> DirectoryOrg::TeamMembers(
    const std::string& team_id) const {
  return org_.TeamMembers(team_id);
}

std::vector<std::string> DirectoryOrg::Reports(const std::string& manager_id,
                                               bool all_levels) const {
  return org_.Reports(manager_id, all_levels);
}

std::optional<std::string> DirectoryOrg::TeamLead(
    const std::string& team_id) const {
  auto t = org_.Team(team_id);
  if (!t.has_value()) return std::nullopt;
  return t->lead_id;
}

absl::StatusOr<std::string> DirectoryOrg::ResolvePerson(
    const auth::Principal& principal, bool fresh) {
  auto caller = org_.ResolveCaller(principal, fresh);
  if (!caller.ok()) return caller.status();
  return caller->person_id;
}

absl::StatusOr<std::vector<std::string>> DirectoryOrg::FreshChain(
    const std::string& person_id) {
  if (auto hit = chains_.Get(person_id); hit.has_value()) return *hit;
  auto chain = org_.FreshManagementChain(person_id);
  if (!chain.ok()) return chain.status();
  chains_.Put(person_id, *chain);
  return chain;
}

absl::Status DirectoryOrg::ValidatePeople(
    const std::vector<std::string>& ids,
    const std::vector<std::string>& fields) {
  bool all_known = true;
  for (const auto& id : ids) all_known = all_known && people_.Get(id);
  if (all_known) return absl::OkStatus();
  auto st = org_.ValidatePeople(ids, fields);
  if (st.ok()) {
    for (const auto& id : ids) people_.Put(id, true);
  }
  return st;
}

}  // namespace sightline::feedback
