#include "lib/org/org.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace sightline::org {

std::vector<std::string> ManagementChain(const OrgView& org,
                                         const std::string& person_id) {
  std::vector<std::string> chain;
  absl::flat_hash_set<std::string> seen = {person_id};
  std::string current = person_id;
  for (int depth = 0; depth < kMaxOrgDepth; ++depth) {
    const std::optional<PersonInfo> person = org.Person(current);
    if (!person.has_value() || person->manager_id.empty()) break;
    if (!seen.insert(person->manager_id).second) break;
    chain.push_back(person->manager_id);
    current = person->manager_id;
  }
  return chain;
}

bool IsInChain(const OrgView& org, const std::string& manager_id,
               const std::string& person_id) {
  if (manager_id.empty()) return false;
  const std::vector<std::string> chain = ManagementChain(org, person_id);
  return std::find(chain.begin(), chain.end(), manager_id) != chain.end();
}

bool IsTeamOrSubTeam(const OrgView& org, const std::string& team_id,
                     const std::string& ancestor_team_id) {
  if (team_id.empty() || ancestor_team_id.empty()) return false;
  absl::flat_hash_set<std::string> seen;
  std::string current = team_id;
  for (int depth = 0; depth <= kMaxOrgDepth && !current.empty(); ++depth) {
    if (current == ancestor_team_id) return true;
    if (!seen.insert(current).second) return false;
    const std::optional<TeamInfo> team = org.Team(current);
    if (!team.has_value()) return false;
    current = team->parent_id;
  }
  return false;
}

}  // namespace sightline::org
