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

// How dates are written in the export: one format for the whole file, given by
// the user, never guessed per row.
enum class DateFormat {
  kIso,
  kMonthDayYear,
  kDayMonthYearDots,
  kDayMonthYearSlashes
};
// "YYYY-MM-DD", "MM/DD/YYYY", "DD.MM.YYYY", "DD/MM/YYYY"; INVALID_ARGUMENT
// naming --date_format otherwise.
absl::StatusOr<DateFormat> ParseDateFormat(absl::string_view name);
// `text` (one date in `format`) as YYYY-MM-DD, or "" when it is not one.
// Single-digit days and months are accepted ("3/7/2024").
std::string NormalizeDate(absl::string_view text, DateFormat format);

// What the export's values mean beyond the default spellings.
struct RosterFormat {
  // Export status spelling (normalized as ParseRosterStatus does) -> status
  // (1 active, 2 on leave, 3 terminated); consulted before the defaults.
  std::map<std::string, int> statuses;
  DateFormat date_format = DateFormat::kIso;
  // Adds `export value=status` entries (status: active, on leave, terminated
  // in any case), one per line when `lines` (a file: blank lines and lines
  // starting with '#' skipped), else comma-separated. INVALID_ARGUMENT
  // naming --status_map and the entry.
  absl::Status AddStatusMap(absl::string_view text, bool lines);
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
                                  const RosterColumns& columns,
                                  const RosterFormat& format = {});

// ACTIVE/ON_LEAVE/TERMINATED from common HRIS spellings ("Active", "A",
// "Full-Time", "Contractor", "Intern", "Leave of Absence", "Suspended",
// "Terminated", "T", "Inactive", "Retired"...) and then `format`'s map; -1 if
// unknown; empty means active.
int ParseRosterStatus(absl::string_view text, const RosterFormat& format = {});

}  // namespace sightline::people
