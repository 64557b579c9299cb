#pragma once

// Who may do what with a goal. Reading and editing are the visibility rules
// every owned object follows (lib/org/access.h, where the terms "owner",
// "the owner's chain" and "involved" are defined): a goal is an org::Owned
// whose owner is its owner person or team, with its contributors and its
// visibility. Checking in and approving are rules of goals alone.
// Stakeholders get no rights from being stakeholders.

#include <string>

#include "lib/org/access.h"
#include "lib/org/org.h"
#include "services/goals/model.h"

namespace sightline::goals {

using org::Caller;
using org::IsInChain;
using org::IsTeamOrSubTeam;
using org::kMaxOrgDepth;
using org::ManagementChain;
using org::OrgView;
using org::PersonInfo;
using org::TeamInfo;

// What the access rules see of a goal.
org::Owned OwnedOf(const Goal& goal);

// The goal's team: the owner team, or the owner person's team; empty when
// the owner person is unknown or has no team (org::OwnedTeam).
std::string GoalTeam(const OrgView& org, const Goal& goal);

// The person whose chain is the owner's chain: the owner person, or the lead
// of the owner team (empty if the team is unknown or has no lead).
std::string AccountablePerson(const OrgView& org, const Goal& goal);

// Read (org::CanRead):
//   - services read every goal;
//   - PUBLIC: everyone, whatever the principal;
//   - involved callers (owner, contributor, owner's chain) read every goal;
//   - TEAM: also members of the goal's team or of any of its sub-teams, the
//     goal team's lead and everyone in that lead's chain; and hr_admin (who
//     reads PRIVATE goals, so TEAM ones too);
//   - PRIVATE: also hr_admin; nobody else.
// An invalid visibility is treated as PRIVATE.
bool CanRead(const Caller& caller, const Goal& goal, const OrgView& org);

// Edit (fields, state, key results, delete a draft): an owner or someone in
// the owner's chain; and services, so that automations can act. Not
// contributors, not hr_admin (org::CanEdit).
bool CanEdit(const Caller& caller, const Goal& goal, const OrgView& org);

// Check in: whoever may edit, and the goal's contributors.
bool CanCheckIn(const Caller& caller, const Goal& goal, const OrgView& org);

// Approve or return: only managers, i.e. someone in the owner's chain, never
// an owner themself. Not services, not hr_admin.
bool CanApprove(const Caller& caller, const Goal& goal, const OrgView& org);

// Align a goal under this one (create a child of it, or move a goal under
// it): whoever may check in on it (its owners, the owner's chain, its
// contributors, services) and the people it cascades to: everyone who
// reports to the owner person (at any level) and, for a team-owned goal, the
// members of the team and of its sub-teams. Reading the goal is not enough:
// a child moves the parent's progress, so a peer, someone in another team or
// hr_admin who can read a TEAM or PUBLIC goal may not align under it.
bool CanAlignUnder(const Caller& caller, const Goal& parent,
                   const OrgView& org);

}  // namespace sightline::goals
