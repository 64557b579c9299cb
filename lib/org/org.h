#pragma once

// The organisation as every service sees it: people, their managers and teams;
// teams, their parents and leads. Reads and access decisions use an in-memory
// replica of the people directory (OrgView), so they keep working while the
// people service is down; writes validate people and teams with the people
// service itself and fail with UNAVAILABLE when it cannot answer (unvalidated
// data is never accepted).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/auth/principal.h"

namespace sightline::org {

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

// An OrgView that can also ask the people service.
class OrgService : public OrgView {
 public:
  // The caller a token stands for. `fresh` asks the people service when the
  // replica does not know the subject (for writes); an unknown subject is a
  // caller with no person, who gets only what everyone gets.
  virtual absl::StatusOr<Caller> ResolveCaller(const auth::Principal& principal,
                                               bool fresh) = 0;

  // Fresh checks, each naming the request field of the offending entry.
  // INVALID_ARGUMENT for a person or team that does not exist (or a person who
  // left), UNAVAILABLE when the people service cannot be asked.
  virtual absl::Status ValidatePeople(
      const std::vector<std::string>& person_ids,
      const std::vector<std::string>& fields) = 0;
  virtual absl::Status ValidateTeam(const std::string& team_id,
                                    const std::string& field) = 0;
  // A person's managers, nearest first, as the people service knows them now.
  virtual absl::StatusOr<std::vector<std::string>> FreshManagementChain(
      const std::string& person_id) = 0;

  // From the replica. Active members of a team and of its sub-teams.
  virtual std::vector<std::string> TeamMembers(
      const std::string& team_id) const = 0;
  // Active reports of a manager: direct only, or at every level below.
  virtual std::vector<std::string> Reports(const std::string& manager_id,
                                           bool all_levels) const = 0;
};

}  // namespace sightline::org
