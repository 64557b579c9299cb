#include "services/people/roster_csv.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

int ParseRosterStatus(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  for (char& c : s) {
    if (c == ' ' || c == '-') c = '_';
  }
  if (s.empty() || s == "active" || s == "a" || s == "employed") return 1;
  if (s == "on_leave" || s == "leave" || s == "l" || s == "loa") return 2;
  if (s == "terminated" || s == "t" || s == "inactive" || s == "former" ||
      s == "left")
    return 3;
  return -1;
}

absl::StatusOr<Roster> ReadRoster(absl::string_view csv,
                                  const RosterColumns& c) {
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
    std::string status_text = get(i_status);
    int status = ParseRosterStatus(status_text);
    if (status < 0) {
      roster.errors.push_back(
          {rec.line, c.status,
           absl::StrCat("unknown status '", status_text,
                        "' (Active, On Leave, Terminated)")});
      continue;
    }
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
