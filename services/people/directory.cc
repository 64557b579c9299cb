#include "services/people/directory.h"

#include "lib/status/status.h"
#include "lib/storage/tokens.h"

namespace sightline::people {

absl::Status Directory::CheckCanRead(const auth::Principal& p) const {
  if (p.subject.empty()) return absl::UnauthenticatedError("no principal");
  return absl::OkStatus();
}

absl::Status Directory::CheckCanSync(const auth::Principal& p) const {
  if (p.HasRole(auth::Role::kHrAdmin) || p.HasRole(auth::Role::kService)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "syncing the directory needs the hr_admin or service role");
}

absl::StatusOr<SyncApplied> Directory::Sync(
    const auth::Principal& principal, const SyncInput& input,
    const IdempotencyKey& idempotency,
    const std::function<std::string(const SyncApplied&)>& encode,
    int64_t now_micros, const std::string& today) {
  if (auto st = CheckCanSync(principal); !st.ok()) return st;
  if (!input.effective_date.empty() && !IsValidDate(input.effective_date)) {
    return status::InvalidField("options.effective_date",
                                "must be a date (YYYY-MM-DD)");
  }
  auto planner = [&](const Snapshot& snapshot) {
    return PlanSync(
        snapshot, input, options_.policy, [] { return storage::NewId(); },
        now_micros, today);
  };
  return repo_->Sync(planner, input.dry_run, idempotency, encode);
}

}  // namespace sightline::people
