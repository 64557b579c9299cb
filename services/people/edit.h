#pragma once

// Writes of one resource at a time (SCIM): the state a client wants for one
// person or one team, turned into the records of a one-record incremental
// sync, after the checks such a write needs (the resource exists or must not,
// its revision is the one the client read, its key does not move). PlanSync
// then applies the directory's rules to the records exactly as it does to a
// roster. Pure: no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/people/model.h"
#include "services/people/sync.h"

namespace sightline::people {

struct PersonEdit {
  bool create = false;
  // Unless 0, the revision the client read; another one is ABORTED.
  int64_t expected_revision = 0;
  // The whole new state. `id` names the person unless `create`; team_id and
  // manager_id are ids. An empty external_id keeps the stored one (on create:
  // the email is used). Roles, start date and end date of an existing person
  // are kept; a person made active again loses the end date.
  Person desired;
};

struct TeamEdit {
  bool create = false;
  int64_t expected_revision = 0;
  // `id` names the team unless `create`; an empty external_id keeps the
  // stored one (on create: the display name is used). Parent and lead of an
  // existing team are kept.
  Team desired;
  // Person ids. `members` set: exactly these people are in the team
  // afterwards (others in it leave it); then `add_members` join it and
  // `remove_members` leave it. A person is in one team at most: joining
  // this one moves them out of any other.
  std::optional<std::vector<std::string>> members;
  std::vector<std::string> add_members;
  std::vector<std::string> remove_members;
};

// INVALID_ARGUMENT naming the field ("manager_id", "team_id", "external_id",
// "members"), NOT_FOUND for a person or team that does not exist,
// ALREADY_EXISTS (reason UNIQUENESS) when a create takes an external id or
// email in use, ABORTED when the revision moved.
absl::StatusOr<SyncInput> PlanPersonEdit(const Snapshot& current,
                                         const PersonEdit& edit);
absl::StatusOr<SyncInput> PlanTeamEdit(const Snapshot& current,
                                       const TeamEdit& edit);

// A stored person as a sync record that changes nothing.
PersonRecord RecordOfPerson(const Snapshot& current, const Person& p);

}  // namespace sightline::people
