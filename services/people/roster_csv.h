#pragma once

// Turns a typical HRIS roster export (CSV with a header row) into sync records.
// Columns: employee_id, email, first_name, last_name, title, department,
// manager_employee_id, status, hire_date, termination_date (names mappable).
// Each distinct department becomes a team keyed by its name. Rows are numbered
// as lines in the file (the header is line 1), and carried as source_row so the
// server's errors point back at them.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/csv/csv.h"
#include "services/people/sync.h"

namespace sightline::people {

// The CSV reader lives in lib/csv; roster code names it unqualified.
using csv::CsvRecord;
using csv::ParseCsv;

struct RosterColumns {
  std::string employee_id = "employee_id";
  std::string email = "email";
  std::string first_name = "first_name";
  std::string last_name = "last_name";
  std::string title = "title";
  std::string department = "department";
  std::string manager_employee_id = "manager_employee_id";
  std::string status = "status";
  std::string hire_date = "hire_date";
  std::string termination_date = "termination_date";
  // Applies "field=Column Name" overrides; INVALID_ARGUMENT for unknown fields.
  absl::Status Override(absl::string_view mapping);
};

struct RosterError {
  int line = 0;
  std::string column;
  std::string message;
};

struct Roster {
  std::vector<TeamRecord> teams;
  std::vector<PersonRecord> people;
  std::vector<RosterError>
      errors;  // rows that could not be turned into records
};

// Header and column problems are an error; bad rows are listed in
// Roster::errors (with their line) so that every problem is reported at once.
absl::StatusOr<Roster> ReadRoster(absl::string_view csv,
                                  const RosterColumns& columns);

// ACTIVE/ON_LEAVE/TERMINATED from common HRIS spellings ("Active", "A",
// "Leave", "On Leave", "Terminated", "T", "Inactive"...); -1 if unknown;
// empty means active.
int ParseRosterStatus(absl::string_view text);

}  // namespace sightline::people
