#pragma once

// OrgService over the replica of the people directory (lib/directory).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/auth/principal.h"
#include "lib/directory/directory.h"
#include "lib/org/org.h"

namespace sightline::org {

class DirectoryOrg : public OrgService {
 public:
  // `dir` must outlive this.
  explicit DirectoryOrg(directory::Directory* dir) : dir_(dir) {}

  std::optional<PersonInfo> Person(const std::string& id) const override;
  std::optional<TeamInfo> Team(const std::string& id) const override;
  absl::StatusOr<Caller> ResolveCaller(const auth::Principal& principal,
                                       bool fresh) override;
  absl::Status ValidatePeople(const std::vector<std::string>& person_ids,
                              const std::vector<std::string>& fields) override;
  absl::Status ValidateTeam(const std::string& team_id,
                            const std::string& field) override;
  absl::StatusOr<std::vector<std::string>> FreshManagementChain(
      const std::string& person_id) override;
  std::vector<std::string> TeamMembers(
      const std::string& team_id) const override;
  std::vector<std::string> Reports(const std::string& manager_id,
                                   bool all_levels) const override;

 private:
  directory::Directory* dir_;
};

}  // namespace sightline::org
