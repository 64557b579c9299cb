#pragma once

// Storage of the directory, as the service sees it. Reads run outside
// transactions; a sync runs inside Sync(), whose SyncTx reads the whole
// directory and writes the plan made on it within one transaction (all or
// nothing). Implemented over SQL (SqlPeopleRepository) and decorated with the
// Redis cache (CachedPeopleRepository); wired in main.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cache/memoized.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/tokens.h"
#include "services/people/model.h"
#include "services/people/sync.h"

namespace sightline::people {

using storage::Idempotency;
using storage::Page;

// A person held in memory, with its rendered answer once a reader made it.
using CachedPerson = cache::Memoized<Person>;

// One sync's view of storage, inside its transaction.
class SyncTx {
 public:
  virtual ~SyncTx() = default;
  // The answer stored for a retried request, if any; INVALID_ARGUMENT naming
  // request_id when the id was used for a different request.
  virtual absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) = 0;
  // Every person and team.
  virtual absl::StatusOr<Snapshot> ReadAll() = 0;
  // Writes the plan and its change-log rows. FAILED_PRECONDITION in a dry run.
  virtual absl::Status Apply(const SyncPlan& plan) = 0;
  // Stores `answer(last_seq)` under `idem` as the transaction commits, where
  // last_seq is the change-log position the transaction ends at.
  // FAILED_PRECONDITION in a dry run.
  virtual absl::Status RecordIdempotent(
      const Idempotency& idem,
      std::function<std::string(int64_t last_seq)> answer) = 0;
};

class PeopleRepository {
 public:
  virtual ~PeopleRepository() = default;

  virtual absl::StatusOr<Person> GetPerson(const std::string& id) = 0;
  // A person already held in memory, without blocking; null otherwise. The
  // entry is shared and immutable: its rendering is memoized with it.
  virtual std::shared_ptr<const CachedPerson> PeekPerson(
      const std::string& /*id*/) {
    return nullptr;
  }
  // The people found, in the order asked; missing ids are left out.
  virtual absl::StatusOr<std::vector<Person>> GetPeople(
      const std::vector<std::string>& ids) = 0;
  virtual absl::StatusOr<Person> FindByExternalId(
      const std::string& external_id) = 0;
  virtual absl::StatusOr<Person> FindByEmail(const std::string& email) = 0;
  // Ordered by id, after `page.after` (an id).
  virtual absl::StatusOr<std::vector<Person>> ListPeople(
      const PeopleFilter& filter, const Page& page) = 0;
  virtual absl::StatusOr<std::vector<Person>> ListReports(
      const std::string& manager_id, bool all_levels, int status,
      const Page& page) = 0;
  // The managers above a person, nearest first.
  virtual absl::StatusOr<std::vector<Person>> ReportingChain(
      const std::string& id) = 0;
  virtual absl::StatusOr<Team> GetTeam(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<Team>> ListTeams(
      const std::string& parent_id, const Page& page) = 0;

  // Runs `fn` in one transaction, a read-only one when `dry_run`. `last_seq`
  // receives the change-log position after the commit (0: no change).
  virtual absl::Status Sync(bool dry_run,
                            const std::function<absl::Status(SyncTx&)>& fn,
                            int64_t* last_seq) = 0;
};

}  // namespace sightline::people
