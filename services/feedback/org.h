#pragma once

// What the feedback service asks of the other services, as interfaces (their
// implementations: directory_org.h over the people directory, grpc_goal_check.h
// over the goals service; fakes.h in tests). Reads and access decisions use the
// in-memory replica of the people directory; writes derive relationships and
// check people and goals with the services themselves (answers kept for a
// short time), and fail with UNAVAILABLE when they cannot answer: nothing
// unvalidated is written.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/auth/principal.h"
#include "services/feedback/rules.h"

namespace sightline::feedback {

class Org {
 public:
  virtual ~Org() = default;
  // From the replica.
  virtual std::vector<std::string> Chain(
      const std::string& person_id) const = 0;
  virtual std::string TeamOf(const std::string& person_id) const = 0;
  virtual std::string ManagerOf(const std::string& person_id) const = 0;
  virtual std::vector<std::string> TeamMembers(
      const std::string& team_id) const = 0;
  // Active reports: direct only, or at every level below.
  virtual std::vector<std::string> Reports(const std::string& manager_id,
                                           bool all_levels) const = 0;
  // nullopt when the team is unknown; "" when it has no lead.
  virtual std::optional<std::string> TeamLead(
      const std::string& team_id) const = 0;
  // The person a token stands for ("" for none). `fresh` asks the people
  // service about a subject the replica does not know yet.
  virtual absl::StatusOr<std::string> ResolvePerson(
      const auth::Principal& principal, bool fresh) = 0;

  // Fresh (see above).
  virtual absl::StatusOr<std::vector<std::string>> FreshChain(
      const std::string& person_id) = 0;
  virtual absl::Status ValidatePeople(
      const std::vector<std::string>& ids,
      const std::vector<std::string>& fields) = 0;
};

// Whether `caller` may reference a goal (and a key result of it): the goal
// exists and the caller may read it. INVALID_ARGUMENT naming `field` when
// not, the same answer whether the goal is missing or only hidden from the
// caller; UNAVAILABLE when the goals service cannot say.
class GoalCheck {
 public:
  virtual ~GoalCheck() = default;
  virtual absl::Status Check(const Caller& caller, const std::string& goal_id,
                             const std::string& key_result,
                             const std::string& field) = 0;
};

}  // namespace sightline::feedback
