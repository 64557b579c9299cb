#include "services/goals/access.h"

namespace sightline::goals {

org::Owned OwnedOf(const Goal& goal) {
  org::Owned owned;
  owned.owner_person_id = goal.owner.person_id;
  owned.owner_team_id = goal.owner.team_id;
  owned.contributor_ids = goal.contributor_ids;
  owned.visibility = goal.visibility;
  return owned;
}

std::string GoalTeam(const OrgView& org, const Goal& goal) {
  return org::OwnedTeam(org, OwnedOf(goal));
}

std::string AccountablePerson(const OrgView& org, const Goal& goal) {
  return org::AccountablePerson(org, OwnedOf(goal));
}

bool CanRead(const Caller& caller, const Goal& goal, const OrgView& org) {
  return org::CanRead(caller, OwnedOf(goal), org);
}

bool CanEdit(const Caller& caller, const Goal& goal, const OrgView& org) {
  return org::CanEdit(caller, OwnedOf(goal), org);
}

bool CanCheckIn(const Caller& caller, const Goal& goal, const OrgView& org) {
  const org::Owned owned = OwnedOf(goal);
  if (org::CanEdit(caller, owned, org)) return true;
  return org::IsActivePerson(caller, org) && org::IsContributor(caller, owned);
}

bool CanApprove(const Caller& caller, const Goal& goal, const OrgView& org) {
  if (!org::IsActivePerson(caller, org)) return false;
  const org::Owned owned = OwnedOf(goal);
  if (org::IsOwner(caller, owned, org)) return false;
  return org::IsInOwnersChain(caller, owned, org);
}

}  // namespace sightline::goals
