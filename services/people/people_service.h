#pragma once

// The directory's rules, applied: who may read and who may sync, the checks
// of lookups and batch reads, and a sync planned on the directory as its
// transaction reads it and applied in the same transaction. Plain C++ over a
// PeopleRepository; the handler converts to and from the API.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/auth/principal.h"
#include "services/people/model.h"
#include "services/people/repository.h"
#include "services/people/sync.h"

namespace sightline::people {

struct PeopleOptions {
  SyncPolicy policy;
  // Ids of new people and teams.
  std::function<std::string()> new_id;
};

struct SyncResult {
  SyncPlan plan;
  int64_t last_seq = 0;  // change-log position after the sync (0: no change)
  // true: `response` is the first answer to this request_id, stored by an
  // earlier sync (and `plan` is empty).
  bool replayed = false;
  std::string response;
};

// The answer to store with an idempotent sync: the response the caller gets.
using SyncAnswer = std::function<std::string(const SyncResult&)>;

// One entry of the change log: a person or a team as committed.
struct DirectoryChange {
  int kind = 0;  // ChangeKind
  std::optional<Person> person;
  std::optional<Team> team;
};

class PeopleService {
 public:
  PeopleService(PeopleRepository* repo, PeopleOptions options);

  // Reads are open to any authenticated principal; a sync needs hr_admin or
  // service.
  absl::Status CheckCanRead(const auth::Principal& p) const;
  absl::Status CheckCanSync(const auth::Principal& p) const;

  absl::StatusOr<Person> GetPerson(const auth::Principal& who,
                                   const std::string& id);
  // A person held in memory, without blocking; null when it is not.
  absl::StatusOr<std::shared_ptr<const CachedPerson>> PeekPerson(
      const auth::Principal& who, const std::string& id);
  // All or nothing, in the order asked: NOT_FOUND naming the first missing.
  absl::StatusOr<std::vector<Person>> BatchGetPeople(
      const auth::Principal& who, const std::vector<std::string>& ids);
  absl::StatusOr<std::vector<Person>> ListPeople(const auth::Principal& who,
                                                 const PeopleFilter& filter,
                                                 const Page& page);
  absl::StatusOr<Person> LookupByExternalId(const auth::Principal& who,
                                            const std::string& external_id);
  // `email` is normalized first.
  absl::StatusOr<Person> LookupByEmail(const auth::Principal& who,
                                       absl::string_view email);
  absl::StatusOr<Team> GetTeam(const auth::Principal& who,
                               const std::string& id);
  absl::StatusOr<std::vector<Team>> ListTeams(const auth::Principal& who,
                                              const std::string& parent_id,
                                              const Page& page);
  absl::StatusOr<std::vector<Person>> ReportingChain(const auth::Principal& who,
                                                     const std::string& id);
  // On the first page (`first_page`) the manager must exist.
  absl::StatusOr<std::vector<Person>> ListReports(const auth::Principal& who,
                                                  const std::string& manager_id,
                                                  bool all_levels, int status,
                                                  const Page& page,
                                                  bool first_page);

  // Plans (and unless input.dry_run, applies) a sync. With a request_id in
  // `idem`, a retry returns the first answer (`replayed`) and `answer` makes
  // the one to store. `today` is the default effective date (YYYY-MM-DD).
  absl::StatusOr<SyncResult> Sync(const auth::Principal& who,
                                  const SyncInput& input,
                                  const Idempotency& idem,
                                  const SyncAnswer& answer, int64_t now_micros,
                                  const std::string& today);

  // A write of one resource (SCIM): `edit` turns the directory, as the
  // transaction reads it, into the records of an incremental sync (see
  // edit.h), which is planned and applied exactly as Sync plans and applies a
  // roster, in the same transaction. Idempotency as for Sync.
  using EditFn = std::function<absl::StatusOr<SyncInput>(const Snapshot&)>;
  absl::StatusOr<SyncResult> Edit(const auth::Principal& who,
                                  const EditFn& edit, const Idempotency& idem,
                                  const SyncAnswer& answer, int64_t now_micros,
                                  const std::string& today);

  // A change-log entry (entity and payload) as a change of the directory;
  // nullopt for an entity the directory does not stream.
  static absl::StatusOr<std::optional<DirectoryChange>> DecodeChange(
      absl::string_view entity, int kind, absl::string_view payload);

 private:
  // Sync and Edit: `input` gives the records once the snapshot is read.
  absl::StatusOr<SyncResult> Run(const EditFn& input, bool dry_run,
                                 const Idempotency& idem,
                                 const SyncAnswer& answer, int64_t now_micros,
                                 const std::string& today);

  PeopleRepository* repo_;
  PeopleOptions options_;
};

}  // namespace sightline::people
