#pragma once

// Org over the in-memory replica of the people directory.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/cache/ttl_cache.h"
#include "lib/directory/directory.h"
#include "lib/org/directory_org.h"
#include "services/feedback/org.h"

namespace sightline::feedback {

// Org over the replica of the people directory: org::DirectoryOrg, with the
// fresh answers kept for `ttl`.
class DirectoryOrg : public Org {
 public:
  DirectoryOrg(directory::Directory* dir, absl::Duration ttl)
      : dir_(dir), org_(dir), chains_(ttl), people_(ttl) {}
  std::vector<std::string> Chain(const std::string& person_id) const override;
  std::string TeamOf(const std::string& person_id) const override;
  std::string ManagerOf(const std::string& person_id) const override;
  std::vector<std::string> TeamMembers(
      const std::string& team_id) const override;
  std::vector<std::string> Reports(const std::string& manager_id,
                                   bool all_levels) const override;
  std::optional<std::string> TeamLead(
      const std::string& team_id) const override;
  absl::StatusOr<std::string> ResolvePerson(const auth::Principal& principal,
                                            bool fresh) override;
  absl::StatusOr<std::vector<std::string>> FreshChain(
      const std::string& person_id) override;
  absl::Status ValidatePeople(const std::vector<std::string>& ids,
                              const std::vector<std::string>& fields) override;

 private:
  directory::Directory* dir_;
  org::DirectoryOrg org_;
  cache::TtlCache<std::vector<std::string>> chains_;
  cache::TtlCache<bool> people_;  // active people, as last confirmed
};

}  // namespace sightline::feedback
