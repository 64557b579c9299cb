#pragma once

// Who may do what with a goal, decided against a view of the organisation
// (people, their managers and teams; teams, their parents and leads).
//
// Terms used below:
//   the owner's chain   ManagementChain of the owner person; for a team-owned
//                       goal, of the owner team's lead.
//   an owner            the owner person, or the lead of the owner team.
//   involved            an owner, a contributor, or someone in the owner's
//                       chain.
//   the goal's team     GoalTeam: the owner team, or the owner person's team.
//
// Rights that come from who a person is (owner, contributor, manager, team
// member) need the caller to be a person the org view knows and lists as
// active: someone who left, or whom the view does not know yet, keeps only
// what everyone has (reading PUBLIC goals). hr_admin and service rights come
// from the caller's token and do not depend on the org view. A team without a
// lead gives nobody a lead's rights (there is no fallback to a parent team's
// lead). Stakeholders get no rights from being stakeholders.

#include <optional>
#include <string>
#include <vector>

#include "services/goals/model.h"

namespace sightline::goals {

struct PersonInfo {
  std::string id;
  std::string team_id;
  std::string manager_id;
  bool active = true;
};

struct TeamInfo {
  std::string id;
  std::string parent_id;
  std::string lead_id;
};

// Implemented by an in-memory replica of the people directory.
class OrgView {
 public:
  virtual ~OrgView() = default;
  virtual std::optional<PersonInfo> Person(const std::string& id) const = 0;
  virtual std::optional<TeamInfo> Team(const std::string& id) const = 0;
};

// The principal of a request.
struct Caller {
  std::string person_id;  // empty if the principal is no person
  bool hr_admin = false;
  bool service = false;
};

// Walks up the org at most this many steps (managers, parent teams).
inline constexpr int kMaxOrgDepth = 64;

// The managers above a person, nearest first: manager, manager's manager...
// Stops at the top, at someone the view does not know, at a loop (nobody
// appears twice, and never the person themself) and after kMaxOrgDepth steps.
// Managers who are inactive stay in the chain (the structure is the
// structure); that they no longer act is the caller check's business.
std::vector<std::string> ManagementChain(const OrgView& org,
                                         const std::string& person_id);

// Whether `manager_id` is in ManagementChain(person_id).
bool IsInChain(const OrgView& org, const std::string& manager_id,
               const std::string& person_id);

// Whether `team_id` is `ancestor_team_id` or one of its sub-teams (at any
// depth), walking parents loop-safely, at most kMaxOrgDepth steps.
bool IsTeamOrSubTeam(const OrgView& org, const std::string& team_id,
                     const std::string& ancestor_team_id);

// The goal's team: the owner team, or the owner person's team; empty when
// the owner person is unknown or has no team.
std::string GoalTeam(const OrgView& org, const Goal& goal);

// The person whose chain is the owner's chain: the owner person, or the lead
// of the owner team (empty if the team is unknown or has no lead).
std::string AccountablePerson(const OrgView& org, const Goal& goal);

// Read:
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
// contributors, not hr_admin.
bool CanEdit(const Caller& caller, const Goal& goal, const OrgView& org);

// Check in: whoever may edit, and the goal's contributors.
bool CanCheckIn(const Caller& caller, const Goal& goal, const OrgView& org);

// Approve or return: only managers, i.e. someone in the owner's chain, never
// an owner themself. Not services, not hr_admin.
bool CanApprove(const Caller& caller, const Goal& goal, const OrgView& org);

}  // namespace sightline::goals
