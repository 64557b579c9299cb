#pragma once

// What the goals service needs to know of the org. Reads and access decisions
// use the in-memory replica of the people directory (OrgView), so they keep
// working while the people service is down; writes validate people and teams
// with the people service itself and fail with UNAVAILABLE when it cannot
// answer (unvalidated data is never accepted).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/auth/principal.h"
#include "services/goals/access.h"

namespace sightline::goals {

class OrgService : public OrgView {
 public:
  // The caller a token stands for. `fresh` asks the people service when the
  // replica does not know the subject (for writes); an unknown subject is a
  // caller with no person, who reads PUBLIC goals only.
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
  // The owner's managers, as the people service knows them now.
  virtual absl::StatusOr<std::vector<std::string>> FreshManagementChain(
      const std::string& person_id) = 0;

  // From the replica.
  virtual std::vector<std::string> TeamMembers(
      const std::string& team_id) const = 0;
  virtual std::vector<std::string> Reports(const std::string& manager_id,
                                           bool all_levels) const = 0;
};

}  // namespace sightline::goals
