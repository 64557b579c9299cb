#include "services/people/roster_csv.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sightline::people {

absl::Status RosterColumns::Override(absl::string_view mapping) {
  size_t eq = mapping.find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == mapping.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--map: '", mapping, "' is not field=Column Name"));
  }
  std::string field(absl::StripAsciiWhitespace(mapping.substr(0, eq)));
  std::string column(absl::StripAsciiWhitespace(mapping.substr(eq + 1)));
  std::map<std::string, std::string*> fields = {
      {"employee_id", &employee_id},
      {"email", &email},
      {"first_name", &first_name},
      {"last_name", &last_name},
      {"title", &title},
      {"department", &department},
      {"manager_employee_id", &manager_employee_id},
      {"status", &status},
      {"hire_date", &hire_date},
      {"termination_date", &termination_date}};
  auto it = fields.find(field);
  if (it == fields.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : fields) names.push_back(k);
    return absl::InvalidArgumentError(
        absl::StrCat("--map: unknown field '", field, "' (one of ",
                     absl::StrJoin(names, ", "), ")"));
  }
  *it->second = column;
  return absl::OkStatus();
}

namespace {

std::string StatusKey(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  for (char& c : s) {
    if (c == ' ' || c == '-' || c == '/') c = '_';
  }
  return s;
}

// Spellings seen in Workday, BambooHR, SAP SuccessFactors, ADP, Personio and
// HiBob exports. Employment types count as active; absences that keep the
// contract as on leave; every way of leaving as terminated.
const absl::flat_hash_map<std::string, int>& DefaultStatuses() {
  static const auto* m =
      new absl::flat_hash_map<std::string, int>{{"active", 1},
                                                {"a", 1},
                                                {"employed", 1},
                                                {"current", 1},
                                                {"working", 1},
                                                {"hired", 1},
                                                {"new_hire", 1},
                                                {"rehired", 1},
                                                {"rehire", 1},
                                                {"regular", 1},
                                                {"permanent", 1},
                                                {"full_time", 1},
                                                {"fulltime", 1},
                                                {"part_time", 1},
                                                {"parttime", 1},
                                                {"temporary", 1},
                                                {"temp", 1},
                                                {"fixed_term", 1},
                                                {"contractor", 1},
                                                {"contract", 1},
                                                {"contingent", 1},
                                                {"consultant", 1},
                                                {"freelance", 1},
                                                {"intern", 1},
                                                {"internship", 1},
                                                {"trainee", 1},
                                                {"apprentice", 1},
                                                {"working_student", 1},
                                                {"seasonal", 1},
                                                {"probation", 1},
                                                {"probationary", 1},
                                                {"on_probation", 1},
                                                {"notice_period", 1},
                                                {"pending_termination", 1},
                                                {"on_leave", 2},
                                                {"leave", 2},
                                                {"l", 2},
                                                {"loa", 2},
                                                {"leave_of_absence", 2},
                                                {"paid_leave", 2},
                                                {"unpaid_leave", 2},
                                                {"medical_leave", 2},
                                                {"sick_leave", 2},
                                                {"maternity_leave", 2},
                                                {"paternity_leave", 2},
                                                {"parental_leave", 2},
                                                {"family_leave", 2},
                                                {"military_leave", 2},
                                                {"sabbatical", 2},
                                                {"disability", 2},
                                                {"short_term_disability", 2},
                                                {"long_term_disability", 2},
                                                {"suspended", 2},
                                                {"suspension", 2},
                                                {"furlough", 2},
                                                {"furloughed", 2},
                                                {"garden_leave", 2},
                                                {"inactive_leave", 2},
                                                {"terminated", 3},
                                                {"t", 3},
                                                {"term", 3},
                                                {"termed", 3},
                                                {"inactive", 3},
                                                {"former", 3},
                                                {"left", 3},
                                                {"leaver", 3},
                                                {"resigned", 3},
                                                {"resignation", 3},
                                                {"retired", 3},
                                                {"retirement", 3},
                                                {"deceased", 3},
                                                {"dismissed", 3},
                                                {"fired", 3},
                                                {"laid_off", 3},
                                                {"layoff", 3},
                                                {"redundant", 3},
                                                {"separated", 3},
                                                {"separation", 3},
                                                {"withdrawn", 3},
                                                {"contract_ended", 3},
                                                {"end_of_contract", 3},
                                                {"expired", 3},
                                                {"quit", 3},
                                                {"offboarded", 3},
                                                {"exited", 3},
                                                {"inactive_terminated", 3}};
  return *m;
}

}  // namespace

int ParseRosterStatus(absl::string_view text, const RosterFormat& format) {
  std::string s = StatusKey(text);
  if (s.empty()) return 1;
  if (auto it = format.statuses.find(s); it != format.statuses.end()) {
    return it->second;
  }
  const auto& defaults = DefaultStatuses();
  if (auto it = defaults.find(s); it != defaults.end()) return it->second;
  return -1;
}

absl::Status RosterFormat::AddStatusMap(absl::string_view text, bool lines) {
  std::vector<absl::string_view> entries =
      lines ? absl::StrSplit(text, '\n') : absl::StrSplit(text, ',');
  for (absl::string_view raw : entries) {
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty() || (lines && entry.front() == '#')) continue;
    size_t eq = entry.rfind('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--status_map: '", entry, "' is not 'export value=status'"));
    }
    std::string target = StatusKey(entry.substr(eq + 1));
    int status = target == "active"       ? 1
                 : target == "on_leave"   ? 2
                 : target == "terminated" ? 3
                                          : 0;
    if (status == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--status_map: '", entry,
          "' maps to an unknown status (active, on leave, terminated)"));
    }
    std::string key = StatusKey(entry.substr(0, eq));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--status_map: '", entry, "' has no export value"));
    }
    statuses[key] = status;
  }
  return absl::OkStatus();
}

absl::StatusOr<DateFormat> ParseDateFormat(absl::string_view name) {
  if (name == "YYYY-MM-DD") return DateFormat::kIso;
  if (name == "MM/DD/YYYY") return DateFormat::kMonthDayYear;
  if (name == "DD.MM.YYYY") return DateFormat::kDayMonthYearDots;
  if (name == "DD/MM/YYYY") return DateFormat::kDayMonthYearSlashes;
  return absl::InvalidArgumentError(
      absl::StrCat("--date_format: '", name,
                   "' is not one of YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, "
                   "DD/MM/YYYY"));
}

std::string NormalizeDate(absl::string_view text, DateFormat format) {
  if (format == DateFormat::kIso)
    return IsValidDate(text) ? std::string(text) : "";
  char sep = format == DateFormat::kDayMonthYearDots ? '.' : '/';
  std::vector<absl::string_view> parts = absl::StrSplit(text, sep);
  if (parts.size() != 3) return "";
  auto number = [](absl::string_view p, size_t min, size_t max, int* out) {
    if (p.size() < min || p.size() > max) return false;
    for (char c : p) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return absl::SimpleAtoi(p, out);
  };
  int a = 0, b = 0, year = 0;
  if (!number(parts[0], 1, 2, &a) || !number(parts[1], 1, 2, &b) ||
      !number(parts[2], 4, 4, &year)) {
    return "";
  }
  int month = format == DateFormat::kMonthDayYear ? a : b;
  int day = format == DateFormat::kMonthDayYear ? b : a;
  std::string iso = absl::StrFormat("%04d-%02d-%02d", year, month, day);
  return IsValidDate(iso) ? iso : "";
}

absl::StatusOr<Roster> ReadRoster(absl::string_view csv, const RosterColumns& c,
                                  const RosterFormat& format) {
  auto records = ParseCsv(csv);
  if (!records.ok()) return records.status();
  if (records->empty())
    return absl::InvalidArgumentError("the file has no header row");
  const CsvRecord& header = records->front();
  absl::flat_hash_map<std::string, int> index;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    index[std::string(absl::StripAsciiWhitespace(header.fields[i]))] =
        static_cast<int>(i);
  }
  auto col = [&](const std::string& name) {
    auto it = index.find(name);
    return it == index.end() ? -1 : it->second;
  };
  std::vector<std::string> missing;
  for (const std::string* required :
       {&c.employee_id, &c.email, &c.first_name, &c.last_name}) {
    if (col(*required) < 0) missing.push_back(*required);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line 1: missing column(s) ", absl::StrJoin(missing, ", "),
        "; map other names with --map field=Column (columns found: ",
        absl::StrJoin(header.fields, ", "), ")"));
  }
  int i_id = col(c.employee_id), i_email = col(c.email),
      i_first = col(c.first_name), i_last = col(c.last_name),
      i_title = col(c.title), i_dept = col(c.department),
      i_mgr = col(c.manager_employee_id), i_status = col(c.status),
      i_hire = col(c.hire_date), i_term = col(c.termination_date);

  Roster roster;
  absl::flat_hash_set<std::string> departments;
  int record_index = 0;
  for (size_t r = 1; r < records->size(); ++r) {
    const CsvRecord& rec = (*records)[r];
    if (rec.fields.size() != header.fields.size()) {
      roster.errors.push_back(
          {rec.line, "",
           absl::StrCat("has ", rec.fields.size(), " fields, the header has ",
                        header.fields.size())});
      continue;
    }
    auto get = [&](int i) {
      return i < 0 ? std::string()
                   : std::string(absl::StripAsciiWhitespace(
                         rec.fields[static_cast<size_t>(i)]));
    };
    PersonRecord p;
    p.source_row = rec.line;
    p.external_id = get(i_id);
    p.email = get(i_email);
    std::string first = get(i_first), last = get(i_last);
    p.display_name =
        first.empty() ? last
                      : (last.empty() ? first : absl::StrCat(first, " ", last));
    p.title = get(i_title);
    p.manager_external_id = get(i_mgr);
    p.start_date = get(i_hire);
    p.end_date = get(i_term);
    // ISO dates go as they are (the server checks them); other formats are
    // converted here, and a value not in the format is refused.
    bool bad_date = false;
    if (format.date_format != DateFormat::kIso) {
      for (auto [date, column] :
           {std::pair{&p.start_date, &c.hire_date},
            std::pair{&p.end_date, &c.termination_date}}) {
        if (date->empty()) continue;
        std::string iso = NormalizeDate(*date, format.date_format);
        if (iso.empty()) {
          roster.errors.push_back(
              {rec.line, *column,
               absl::StrCat("'", *date,
                            "' is not a date in the format of "
                            "--date_format")});
          bad_date = true;
        }
        *date = iso;
      }
    }
    std::string status_text = get(i_status);
    int status = ParseRosterStatus(status_text, format);
    if (status < 0) {
      roster.errors.push_back(
          {rec.line, c.status,
           absl::StrCat("unknown status '", status_text,
                        "' (Active, On Leave, Terminated and common HRIS "
                        "spellings; map others with --status_map)")});
      continue;
    }
    if (bad_date) continue;
    p.status = status;
    std::string dept = get(i_dept);
    if (!dept.empty()) {
      p.team_external_id = dept;
      if (departments.insert(dept).second) {
        TeamRecord t;
        t.external_id = dept;
        t.display_name = dept;
        t.source_row = rec.line;
        roster.teams.push_back(std::move(t));
      }
    }
    roster.people.push_back(std::move(p));
  }
  // Teams go first in the stream, so records[i] numbers teams, then people.
  for (auto& t : roster.teams) t.index = record_index++;
  for (auto& p : roster.people) p.index = record_index++;
  return roster;
}

}  // namespace sightline::people
