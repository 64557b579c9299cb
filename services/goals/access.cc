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

bool CanAlignUnder(const Caller& caller, const Goal& parent,
                   const OrgView& org) {
  if (CanCheckIn(caller, parent, org)) return true;
  if (!org::IsActivePerson(caller, org)) return false;
  const std::string accountable = AccountablePerson(org, parent);
  if (!accountable.empty() &&
      org::IsInChain(org, accountable, caller.person_id)) {
    return true;
  }
  if (parent.owner.team_id.empty()) return false;
  const auto me = org.Person(caller.person_id);
  return me.has_value() && !me->team_id.empty() &&
         org::IsTeamOrSubTeam(org, me->team_id, parent.owner.team_id);
}

}  // namespace sightline::goals
