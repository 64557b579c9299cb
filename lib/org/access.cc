#include "lib/org/access.h"

#include <algorithm>
#include <optional>

namespace sightline::org {
namespace {

// Member of the object's team or of one of its sub-teams, the object team's
// lead, or someone in that lead's chain.
bool IsInOwnedTeam(const Caller& caller, const Owned& owned,
                   const OrgView& org) {
  const std::string team_id = OwnedTeam(org, owned);
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

bool IsActivePerson(const Caller& caller, const OrgView& org) {
  if (caller.person_id.empty()) return false;
  const std::optional<PersonInfo> person = org.Person(caller.person_id);
  return person.has_value() && person->active;
}

bool IsOwner(const Caller& caller, const Owned& owned, const OrgView& org) {
  if (!owned.owner_team_id.empty()) {
    const std::optional<TeamInfo> team = org.Team(owned.owner_team_id);
    return team.has_value() && !team->lead_id.empty() &&
           team->lead_id == caller.person_id;
  }
  return !owned.owner_person_id.empty() &&
         owned.owner_person_id == caller.person_id;
}

bool IsContributor(const Caller& caller, const Owned& owned) {
  return std::find(owned.contributor_ids.begin(), owned.contributor_ids.end(),
                   caller.person_id) != owned.contributor_ids.end();
}

bool IsInOwnersChain(const Caller& caller, const Owned& owned,
                     const OrgView& org) {
  const std::string accountable = AccountablePerson(org, owned);
  return !accountable.empty() && IsInChain(org, caller.person_id, accountable);
}

std::string OwnedTeam(const OrgView& org, const Owned& owned) {
  if (!owned.owner_team_id.empty()) return owned.owner_team_id;
  if (owned.owner_person_id.empty()) return "";
  const std::optional<PersonInfo> owner = org.Person(owned.owner_person_id);
  return owner.has_value() ? owner->team_id : "";
}

std::string AccountablePerson(const OrgView& org, const Owned& owned) {
  if (owned.owner_team_id.empty()) return owned.owner_person_id;
  const std::optional<TeamInfo> team = org.Team(owned.owner_team_id);
  return team.has_value() ? team->lead_id : "";
}

bool CanRead(const Caller& caller, const Owned& owned, const OrgView& org) {
  if (caller.service) return true;
  if (owned.visibility == Visibility::kPublic) return true;
  const bool hr_admin_may = caller.hr_admin;  // PRIVATE, and so TEAM too
  if (!IsActivePerson(caller, org)) return hr_admin_may;
  if (IsOwner(caller, owned, org) || IsContributor(caller, owned) ||
      IsInOwnersChain(caller, owned, org)) {
    return true;
  }
  if (owned.visibility == Visibility::kTeam) {
    return hr_admin_may || IsInOwnedTeam(caller, owned, org);
  }
  return hr_admin_may;
}

bool CanEdit(const Caller& caller, const Owned& owned, const OrgView& org) {
  if (caller.service) return true;
  if (!IsActivePerson(caller, org)) return false;
  return IsOwner(caller, owned, org) || IsInOwnersChain(caller, owned, org);
}

}  // namespace sightline::org
