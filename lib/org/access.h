#pragma once

// Who may read and edit an object that a person or a team owns (a goal, a
// KPI...), decided against a view of the organisation. These are the
// visibility rules of goals; every service whose objects carry a PUBLIC /
// TEAM / PRIVATE visibility uses them, so that the words mean the same
// everywhere.
//
// Terms used below:
//   the owner's chain   ManagementChain of the owner person; for a team-owned
//                       object, of the owner team's lead.
//   an owner            the owner person, or the lead of the owner team.
//   involved            an owner, a contributor, or someone in the owner's
//                       chain.
//   the object's team   OwnedTeam: the owner team, or the owner person's team.
//
// Rights that come from who a person is (owner, contributor, manager, team
// member) need the caller to be a person the org view knows and lists as
// active: someone who left, or whom the view does not know yet, keeps only
// what everyone has (reading PUBLIC objects). hr_admin and service rights come
// from the caller's token and do not depend on the org view. A team without a
// lead gives nobody a lead's rights (there is no fallback to a parent team's
// lead).

#include <string>
#include <vector>

#include "lib/org/org.h"

namespace sightline::org {

// Numbers as in the APIs (sightline.goals.v1.Goal.Visibility).
enum class Visibility { kPublic = 1, kTeam = 2, kPrivate = 3 };

// What access decisions need to know of an object. The owner is a team when
// `owner_team_id` is set, otherwise the person `owner_person_id`.
struct Owned {
  std::string owner_person_id;
  std::string owner_team_id;
  std::vector<std::string> contributor_ids;
  Visibility visibility = Visibility::kPublic;
};

// The object's team: the owner team, or the owner person's team; empty when
// the owner person is unknown or has no team.
std::string OwnedTeam(const OrgView& org, const Owned& owned);

// The person whose chain is the owner's chain: the owner person, or the lead
// of the owner team (empty if the team is unknown or has no lead).
std::string AccountablePerson(const OrgView& org, const Owned& owned);

// Read:
//   - services read every object;
//   - PUBLIC: everyone, whatever the principal;
//   - involved callers (owner, contributor, owner's chain) read every object;
//   - TEAM: also members of the object's team or of any of its sub-teams, the
//     object team's lead and everyone in that lead's chain; and hr_admin (who
//     reads PRIVATE objects, so TEAM ones too);
//   - PRIVATE: also hr_admin; nobody else.
// An invalid visibility is treated as PRIVATE.
bool CanRead(const Caller& caller, const Owned& owned, const OrgView& org);

// Edit: an owner or someone in the owner's chain; and services, so that
// automations can act. Not contributors, not hr_admin.
bool CanEdit(const Caller& caller, const Owned& owned, const OrgView& org);

// The parts the rules above are made of, for services that add rules of their
// own (goals: who checks in, who approves). Each needs an active caller
// (IsActivePerson) to mean anything; none of them checks it.

// The caller is a person the org view knows as active.
bool IsActivePerson(const Caller& caller, const OrgView& org);
// The caller is the owner person, or the lead of the owner team.
bool IsOwner(const Caller& caller, const Owned& owned, const OrgView& org);
bool IsContributor(const Caller& caller, const Owned& owned);
// The caller is in the owner's chain.
bool IsInOwnersChain(const Caller& caller, const Owned& owned,
                     const OrgView& org);

}  // namespace sightline::org
