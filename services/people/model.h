#pragma once

// The directory's domain types: plain C++, no protos.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace sightline::people {

enum class PersonStatus { kActive = 1, kOnLeave = 2, kTerminated = 3 };

struct Person {
  std::string id;
  std::string external_id;
  std::string email;
  std::string display_name;
  std::string title;
  std::string team_id;     // empty: none
  std::string manager_id;  // empty: top of the org
  PersonStatus status = PersonStatus::kActive;
  std::string start_date;  // YYYY-MM-DD or empty
  std::string end_date;
  std::vector<std::string> roles;
  int64_t revision = 0;
  int64_t create_time = 0;  // micros since epoch
  int64_t update_time = 0;
};

struct Team {
  std::string id;
  std::string external_id;
  std::string display_name;
  std::string parent_id;
  std::string lead_id;
  int64_t revision = 0;
  int64_t create_time = 0;
  int64_t update_time = 0;
};

struct PeopleFilter {
  std::string team_id;
  std::string manager_id;
  int status = 0;  // 0: any
};

// Change-log entity names and kinds.
inline constexpr absl::string_view kPersonEntity = "person";
inline constexpr absl::string_view kTeamEntity = "team";
enum class ChangeKind { kCreated = 1, kUpdated = 2, kDeleted = 3 };

}  // namespace sightline::people
