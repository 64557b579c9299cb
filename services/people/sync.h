#pragma once

// Planning an HRIS sync: validate the incoming roster against the directory as
// it would be afterwards, and compute the exact diff. Pure: no I/O, so the
// rules are unit-tested directly, and the repository applies the plan in one
// transaction (all or nothing).

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/people/model.h"

namespace sightline::people {

enum class SyncMode { kFull, kIncremental };

struct PersonRecord {
  int index = 0;  // position among the records of the stream: "records[index]"
  std::string external_id;
  std::string email;
  std::string display_name;
  std::string title;
  std::string team_external_id;
  std::string manager_external_id;
  int status = 0;  // 0 = unspecified = active
  std::string start_date;
  std::string end_date;
  std::vector<std::string> roles;
  int64_t source_row = 0;  // e.g. the CSV line, echoed in errors
};

struct TeamRecord {
  int index = 0;
  std::string external_id;
  std::string display_name;
  std::string parent_external_id;
  std::string lead_external_id;
  int64_t source_row = 0;
};

struct SyncInput {
  SyncMode mode = SyncMode::kIncremental;
  bool dry_run = false;
  bool allow_mass_termination = false;
  std::string effective_date;  // YYYY-MM-DD; empty = today
  std::vector<PersonRecord> people;
  std::vector<TeamRecord> teams;
};

struct SyncPolicy {
  // A FULL sync may terminate at most this share of active people unless the
  // request allows a mass termination.
  double mass_termination_share = 0.2;
  int max_details = 100;
  int max_errors = 1000;
};

struct FieldChange {
  std::string field;
  std::string old_value;
  std::string new_value;
};

enum class ChangeAction { kCreated = 1, kUpdated = 2, kTerminated = 3 };

struct ChangeDetail {
  ChangeAction action = ChangeAction::kUpdated;
  bool is_team = false;
  std::string id;
  std::string external_id;
  std::vector<FieldChange> fields;
};

struct Counts {
  int created = 0;
  int updated = 0;
  int terminated = 0;
  int unchanged = 0;
};

struct Snapshot {
  std::vector<Person> people;
  std::vector<Team> teams;
};

struct SyncPlan {
  std::vector<Person> create_people;
  std::vector<Person> update_people;  // new state; revision already bumped
  std::vector<Team> create_teams;
  std::vector<Team> update_teams;
  Counts people;
  Counts teams;
  std::vector<ChangeDetail> details;  // the first SyncPolicy::max_details
  // Emails people had before this sync where they changed (for cache keys).
  std::vector<std::string> old_emails;
  // People whose email changes (their rows are parked first; see the
  // repository).
  std::vector<std::string> email_changed_ids;
  bool empty() const {
    return create_people.empty() && update_people.empty() &&
           create_teams.empty() && update_teams.empty();
  }
};

// INVALID_ARGUMENT with one field violation per bad record field
// ("records[12].manager_external_id"); FAILED_PRECONDITION with reason
// MASS_TERMINATION when the guard trips.
absl::StatusOr<SyncPlan> PlanSync(const Snapshot& current,
                                  const SyncInput& input,
                                  const SyncPolicy& policy,
                                  absl::FunctionRef<std::string()> new_id,
                                  int64_t now_micros, absl::string_view today);

// Validation rules, exposed for the importer and tests.
bool IsValidEmail(absl::string_view email);
bool IsValidDate(absl::string_view date);  // YYYY-MM-DD, a real calendar day
bool IsKnownRole(absl::string_view role);
std::string NormalizeEmail(absl::string_view email);

}  // namespace sightline::people
