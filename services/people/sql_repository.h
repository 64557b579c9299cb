#pragma once

#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "services/people/repository.h"

namespace sightline::people {

// The people service's schema, track "people".
const std::vector<storage::Migration>& PeopleMigrations();

class SqlPeopleRepository : public PeopleRepository {
 public:
  explicit SqlPeopleRepository(storage::Database* db) : db_(db) {}

  absl::StatusOr<Person> GetPerson(const std::string& id) override;
  absl::StatusOr<std::vector<Person>> GetPeople(
      const std::vector<std::string>& ids) override;
  absl::StatusOr<Person> FindByExternalId(
      const std::string& external_id) override;
  absl::StatusOr<Person> FindByEmail(const std::string& email) override;
  absl::StatusOr<std::vector<Person>> ListPeople(const PeopleFilter& filter,
                                                 const Page& page) override;
  absl::StatusOr<std::vector<Person>> ListReports(const std::string& manager_id,
                                                  bool all_levels, int status,
                                                  const Page& page) override;
  absl::StatusOr<std::vector<Person>> ReportingChain(
      const std::string& id) override;
  absl::StatusOr<Team> GetTeam(const std::string& id) override;
  absl::StatusOr<std::vector<Team>> ListTeams(const std::string& parent_id,
                                              const Page& page) override;
  absl::Status Sync(bool dry_run,
                    const std::function<absl::Status(SyncTx&)>& fn,
                    int64_t* last_seq) override;

 private:
  absl::StatusOr<Person> FindOne(absl::string_view op,
                                 const std::string& column,
                                 const std::string& value);
  storage::Database* db_;
};

}  // namespace sightline::people
