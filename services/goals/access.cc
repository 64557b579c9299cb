#include "services/goals/access.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace sightline::goals {
namespace {

// Whether the caller is a person the org view knows as active: the ground for
// every right that comes from who the caller is.
bool IsActivePerson(const Caller& caller, const OrgView& org) {
  if (caller.person_id.empty()) return false;
  const std::optional<PersonInfo> person = org.Person(caller.person_id);
  return person.has_value() && person->active;
}

bool IsOwner(const Caller& caller, const Goal& goal, const OrgView& org) {
  if (goal.owner.is_team()) {
    const std::optional<TeamInfo> team = org.Team(goal.owner.team_id);
    return team.has_value() && !team->lead_id.empty() &&
           team->lead_id == caller.person_id;
  }
  return !goal.owner.person_id.empty() &&
         goal.owner.person_id == caller.person_id;
}

bool IsContributor(const Caller& caller, const Goal& goal) {
  return std::find(goal.contributor_ids.begin(), goal.contributor_ids.end(),
                   caller.person_id) != goal.contributor_ids.end();
}

bool IsInOwnersChain(const Caller& caller, const Goal& goal,
                     const OrgView& org) {
  const std::string accountable = AccountablePerson(org, goal);
  return !accountable.empty() && IsInChain(org, caller.person_id, accountable);
}

// Member of the goal's team or of one of its sub-teams, the goal team's lead,
// or someone in that lead's chain.
bool IsInGoalsTeam(const Caller& caller, const Goal& goal, const OrgView& org) {
  const std::string team_id = GoalTeam(org, goal);
  if (team_id.empty()) return false;
  const std::optional<PersonInfo> me = org.Person(caller.person_id);
  if (me.has_value() && !me->team_id.empty() &&
      IsTeamOrSubTeam(org, me->team_id, team_id)) {
    return true;
  }
  const std::optional<TeamInfo> team = org.Team(team_id);
  if (!team.has_value() || team->lead_id.empty()) return false;
  return team->lead_id == caller.person_id ||
         IsInChain(org, caller.person_id, team->lead_id);
}

}  // namespace

std::vector<std::string> ManagementChain(const OrgView& org,
                                         const std::string& person_id) {
  std::vector<std::string> chain;
  absl::flat_hash_set<std::string> seen = {person_id};
  std::string current = person_id;
  for (int depth = 0; depth < kMaxOrgDepth; ++depth) {
    const std::optional<PersonInfo> person = org.Person(current);
    if (!person.has_value() || person->manager_id.empty()) break;
    if (!seen.insert(person->manager_id).second) break;
    chain.push_back(person->manager_id);
    current = person->manager_id;
  }
  return chain;
}

bool IsInChain(const OrgView& org, const std::string& manager_id,
               const std::string& person_id) {
  if (manager_id.empty()) return false;
  const std::vector<std::string> chain = ManagementChain(org, person_id);
  return std::find(chain.begin(), chain.end(), manager_id) != chain.end();
}

bool IsTeamOrSubTeam(const OrgView& org, const std::string& team_id,
                     const std::string& ancestor_team_id) {
  if (team_id.empty() || ancestor_team_id.empty()) return false;
  absl::flat_hash_set<std::string> seen;
  std::string current = team_id;
  for (int depth = 0; depth <= kMaxOrgDepth && !current.empty(); ++depth) {
    if (current == ancestor_team_id) return true;
    if (!seen.insert(current).second) return false;
    const std::optional<TeamInfo> team = org.Team(current);
    if (!team.has_value()) return false;
    current = team->parent_id;
  }
  return false;
}

std::string GoalTeam(const OrgView& org, const Goal& goal) {
  if (goal.owner.is_team()) return goal.owner.team_id;
  if (goal.owner.person_id.empty()) return "";
  const std::optional<PersonInfo> owner = org.Person(goal.owner.person_id);
  return owner.has_value() ? owner->team_id : "";
}

std::string AccountablePerson(const OrgView& org, const Goal& goal) {
  if (!goal.owner.is_team()) return goal.owner.person_id;
  const std::optional<TeamInfo> team = org.Team(goal.owner.team_id);
  return team.has_value() ? team->lead_id : "";
}

bool CanRead(const Caller& caller, const Goal& goal, const OrgView& org) {
  if (caller.service) return true;
  if (goal.visibility == Visibility::kPublic) return true;
  const bool hr_admin_may = caller.hr_admin;  // PRIVATE, and so TEAM too
  if (!IsActivePerson(caller, org)) return hr_admin_may;
  if (IsOwner(caller, goal, org) || IsContributor(caller, goal) ||
      IsInOwnersChain(caller, goal, org)) {
    return true;
  }
  if (goal.visibility == Visibility::kTeam) {
    return hr_admin_may || IsInGoalsTeam(caller, goal, org);
  }
  return hr_admin_may;
}

bool CanEdit(const Caller& caller, const Goal& goal, const OrgView& org) {
  if (caller.service) return true;
  if (!IsActivePerson(caller, org)) return false;
  return IsOwner(caller, goal, org) || IsInOwnersChain(caller, goal, org);
}

bool CanCheckIn(const Caller& caller, const Goal& goal, const OrgView& org) {
  if (CanEdit(caller, goal, org)) return true;
  return IsActivePerson(caller, org) && IsContributor(caller, goal);
}

bool CanApprove(const Caller& caller, const Goal& goal, const OrgView& org) {
  if (!IsActivePerson(caller, org)) return false;
  if (IsOwner(caller, goal, org)) return false;
  return IsInOwnersChain(caller, goal, org);
}

}  // namespace sightline::goals
