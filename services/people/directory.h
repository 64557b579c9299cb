#pragma once

// The directory's rules: who may read and who may sync, and the sync policy.
// Reads are open to any authenticated principal; a sync needs hr_admin or
// service.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/auth/principal.h"
#include "services/people/repository.h"

namespace sightline::people {

struct DirectoryOptions {
  SyncPolicy policy;
};

class Directory {
 public:
  Directory(PeopleRepository* repo, DirectoryOptions options)
      : repo_(repo), options_(std::move(options)) {}

  PeopleRepository& repo() { return *repo_; }

  absl::Status CheckCanRead(const auth::Principal& p) const;
  absl::Status CheckCanSync(const auth::Principal& p) const;

  // Plans (and unless dry_run, applies) a sync. `today` is the default
  // effective date (YYYY-MM-DD).
  absl::StatusOr<SyncApplied> Sync(
      const auth::Principal& principal, const SyncInput& input,
      const IdempotencyKey& idempotency,
      const std::function<std::string(const SyncApplied&)>& encode,
      int64_t now_micros, const std::string& today);

 private:
  PeopleRepository* repo_;
  DirectoryOptions options_;
};

}  // namespace sightline::people
