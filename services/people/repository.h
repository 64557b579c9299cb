#pragma once

// Storage of the directory, as the domain sees it. Implemented over SQL
// (SqlPeopleRepository) and decorated with the Redis cache
// (CachedPeopleRepository); wired in main.cc.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cache/memoized.h"
#include "services/people/model.h"
#include "services/people/sync.h"

namespace sightline::people {

// A person held in memory, with its rendered answer once a reader made it.
using CachedPerson = cache::Memoized<Person>;

struct SyncApplied {
  SyncPlan plan;
  int64_t last_seq = 0;  // change-log position after the sync (0: no change)
  std::string response;  // stored answer when an idempotency record matched
  bool replayed =
      false;  // true: `response` is the first answer to this request_id
};

struct IdempotencyKey {
  std::string scope;
  std::string request_id;  // empty: not idempotent
  std::string fingerprint;
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

  // Reads the whole directory and plans a sync on it with `planner`, then,
  // unless `dry_run`, applies the plan, all in one transaction. With a
  // request_id, a retry returns the first answer (`replayed`), and `encode`
  // turns the result into the answer to store.
  virtual absl::StatusOr<SyncApplied> Sync(
      const std::function<absl::StatusOr<SyncPlan>(const Snapshot&)>& planner,
      bool dry_run, const IdempotencyKey& idempotency,
      const std::function<std::string(const SyncApplied&)>& encode) = 0;
};

}  // namespace sightline::people
