// An HRIS roster export as `sightline sync-people` reads it: the CSV reader,
// then the roster's columns and rows.

#include "services/people/roster_csv.h"

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "fuzz/check.h"
#include "lib/csv/csv.h"

using sightline::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sightline::csv::ParseCsv(text);
  static const sightline::people::RosterColumns columns;
  auto roster = sightline::people::ReadRoster(text, columns);
  if (roster.ok()) {
    // Teams are numbered first in the stream, then people; rows point back at
    // lines after the header. (An empty employee id is the server's to refuse,
    // naming the record.)
    int index = 0;
    absl::flat_hash_set<std::string> teams;
    for (const auto& t : roster->teams) {
      Check(t.index == index++ && t.source_row >= 2);
      teams.insert(t.external_id);
    }
    for (const auto& p : roster->people) {
      Check(p.index == index++ && p.source_row >= 2);
      Check(p.team_external_id.empty() || teams.contains(p.team_external_id));
    }
    for (const auto& e : roster->errors) Check(e.line >= 2);
  }
  (void)sightline::people::ParseRosterStatus(text);
  return 0;
}
