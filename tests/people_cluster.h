#pragma once

// A real people service for cross-process tests: redis-server, a database
// (SQLite file or a PostgreSQL cluster), and the sightline-people binary on
// loopback ports, all started by the test and stopped by pid.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/service.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

namespace sightline::testing {

enum class Db { kSqlite, kPostgres };
inline std::string DbName(const ::testing::TestParamInfo<Db>& info) {
  return info.param == Db::kSqlite ? "Sqlite" : "Postgres";
}

namespace pv1 = ::sightline::people::v1;

class PeopleCluster {
 public:
  // Starts Redis, the database and the service. `extra_args` go to the binary.
  static absl::StatusOr<std::unique_ptr<PeopleCluster>> Start(
      Db db, std::vector<std::string> extra_args = {});
  ~PeopleCluster();

  ServiceProcess& service() { return *service_; }
  RedisServer& redis() { return *redis_; }
  const TestTokens& tokens() const { return *tokens_; }
  const std::string& dir() const { return dir_; }
  Db db() const { return db_; }
  // The PostgreSQL cluster behind the service (nullptr on SQLite), for tests
  // that put another service's database on it.
  PostgresServer* postgres() const { return pg_.get(); }
  std::unique_ptr<pv1::PeopleService::Stub> Stub() const;

  std::string AdminToken() const;     // hr_admin
  std::string EmployeeToken() const;  // no roles
  std::string ServiceToken() const;   // service

  // Runs a SyncPeople with `options` and `records` (persons and teams as
  // given).
  grpc::Status Sync(const pv1::SyncOptions& options,
                    const std::vector<pv1::SyncPeopleRequest>& records,
                    pv1::SyncPeopleResponse* response,
                    const std::string& token = "");

 private:
  PeopleCluster() = default;
  Db db_ = Db::kSqlite;
  std::string dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<PostgresServer> pg_;
  std::unique_ptr<TestTokens> tokens_;
  std::unique_ptr<ServiceProcess> service_;
};

// Records for a synthetic org: E0 at the top, `fanout` reports per manager,
// breadth first, `n` people in all, teams T0..T(teams-1) assigned round robin.
std::vector<pv1::SyncPeopleRequest> OrgRecords(int n, int fanout = 5,
                                               int teams = 3);
pv1::SyncPeopleRequest PersonMsg(const std::string& ext,
                                 const std::string& manager,
                                 const std::string& team = "");
pv1::SyncPeopleRequest TeamMsg(const std::string& ext,
                               const std::string& parent = "");
pv1::SyncOptions Full();
pv1::SyncOptions Incremental();

// google.rpc.BadRequest field names carried by a failed call.
std::vector<std::string> ViolatedFields(const grpc::Status& status);
std::string ErrorReason(const grpc::Status& status);

}  // namespace sightline::testing
