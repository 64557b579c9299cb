#pragma once

// Read-through Redis cache in front of the SQL repository: people, teams, the
// email -> person and HRIS key -> person lookups, and reporting chains. A sync
// invalidates what it changed after its commit; reporting chains (which depend
// on everyone above a person) are flushed as a namespace when any person
// changes. When Redis is down every call goes to SQL.

#include "lib/cache/cache.h"
#include "lib/cache/local_cache.h"
#include "services/people/repository.h"

namespace sightline::people {

class CachedPeopleRepository : public PeopleRepository {
 public:
  // `local_capacity` people are also kept in process memory (0: none).
  CachedPeopleRepository(PeopleRepository* inner, cache::Cache* entities,
                         cache::Cache* chains, size_t local_capacity = 0)
      : inner_(inner),
        entities_(entities),
        chains_(chains),
        local_(local_capacity) {}

  absl::StatusOr<Person> GetPerson(const std::string& id) override;
  std::shared_ptr<const CachedPerson> PeekPerson(
      const std::string& id) override {
    return local_.Get(id).value_or(nullptr);
  }
  void ExportMetrics(prometheus::Registry* registry) {
    local_.ExportMetrics(registry, "people-local");
  }
  // Drops what this process holds in memory (when other replicas committed).
  void ClearLocal() { local_.Clear(); }
  absl::StatusOr<std::vector<Person>> GetPeople(
      const std::vector<std::string>& ids) override;
  absl::StatusOr<Person> FindByExternalId(
      const std::string& external_id) override;
  absl::StatusOr<Person> FindByEmail(const std::string& email) override;
  absl::StatusOr<std::vector<Person>> ListPeople(const PeopleFilter& filter,
                                                 const Page& page) override {
    return inner_->ListPeople(filter, page);
  }
  absl::StatusOr<std::vector<Person>> ListReports(const std::string& manager_id,
                                                  bool all_levels, int status,
                                                  const Page& page) override {
    return inner_->ListReports(manager_id, all_levels, status, page);
  }
  absl::StatusOr<std::vector<Person>> ReportingChain(
      const std::string& id) override;
  absl::StatusOr<Team> GetTeam(const std::string& id) override;
  absl::StatusOr<std::vector<Team>> ListTeams(const std::string& parent_id,
                                              const Page& page) override {
    return inner_->ListTeams(parent_id, page);
  }
  absl::Status Sync(bool dry_run,
                    const std::function<absl::Status(SyncTx&)>& fn,
                    int64_t* last_seq) override;

 private:
  absl::StatusOr<Person> ByLookupKey(
      const std::string& key,
      const std::function<absl::StatusOr<Person>()>& find);

  PeopleRepository* inner_;
  cache::Cache* entities_;
  cache::Cache* chains_;
  cache::LocalCache<std::shared_ptr<const CachedPerson>> local_;
};

}  // namespace sightline::people
