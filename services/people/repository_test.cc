// One contract for every PeopleRepository: the in-memory fake the service
// tests use, the SQL repository on SQLite and on PostgreSQL, and the cache
// decorator over SQLite (Redis off, people kept in process memory). Each is
// driven only through the interface.

#include "services/people/repository.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/cache/cache.h"
#include "lib/storage/database.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/people/cached_repository.h"
#include "services/people/fake_repository.h"
#include "services/people/sql_repository.h"

namespace sightline::people {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

enum class Kind { kFake, kSqlite, kPostgres, kCachedSqlite };

std::string KindName(const ::testing::TestParamInfo<Kind>& info) {
  switch (info.param) {
    case Kind::kFake:
      return "Fake";
    case Kind::kSqlite:
      return "Sqlite";
    case Kind::kPostgres:
      return "Postgres";
    case Kind::kCachedSqlite:
      return "CachedSqlite";
  }
  return "Unknown";
}

// One PostgreSQL cluster per test binary, started by the first test that
// needs it; each test gets a database of its own.
class Postgres {
 public:
  static absl::StatusOr<std::string> NewDatabase() {
    static Postgres* pg = new Postgres();
    if (!pg->started_.ok()) return pg->started_;
    static std::atomic<int> n{0};
    return pg->server_.CreateDatabase(absl::StrCat("people", n++));
  }

 private:
  Postgres()
      : dir_(testing::MakeTempDir("people-repo-pg")),
        server_(dir_),
        started_(server_.Start()) {}
  std::string dir_;
  testing::PostgresServer server_;
  absl::Status started_;
};

Person P(std::string id, std::string manager = "", std::string team = "",
         PersonStatus status = PersonStatus::kActive) {
  Person p;
  p.id = id;
  p.external_id = absl::StrCat("E-", id);
  p.email = absl::StrCat(id, "@example.com");
  p.display_name = absl::StrCat("Person ", id);
  p.title = "Engineer";
  p.team_id = std::move(team);
  p.manager_id = std::move(manager);
  p.status = status;
  p.start_date = "2020-01-15";
  p.roles = {"employee"};
  p.revision = 1;
  p.create_time = 1000;
  p.update_time = 1000;
  return p;
}

Team T(std::string id, std::string parent = "", std::string lead = "") {
  Team t;
  t.id = id;
  t.external_id = absl::StrCat("T-", id);
  t.display_name = absl::StrCat("Team ", id);
  t.parent_id = std::move(parent);
  t.lead_id = std::move(lead);
  t.revision = 1;
  t.create_time = 1000;
  t.update_time = 1000;
  return t;
}

Page After(std::string after, int limit) {
  Page page;
  page.after = std::move(after);
  page.limit = limit;
  return page;
}

std::vector<std::string> Ids(const std::vector<Person>& people) {
  std::vector<std::string> out;
  for (const auto& p : people) out.push_back(p.id);
  return out;
}

class PeopleRepositoryContract : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("people-repo");
    switch (GetParam()) {
      case Kind::kFake:
        repo_ = std::make_unique<FakePeopleRepository>();
        break;
      case Kind::kSqlite:
      case Kind::kCachedSqlite:
        Open(absl::StrCat("sqlite://", dir_, "/people.db"));
        break;
      case Kind::kPostgres: {
        auto url = Postgres::NewDatabase();
        ASSERT_TRUE(url.ok()) << url.status();
        Open(*url);
        break;
      }
    }
    ASSERT_TRUE(repo_ != nullptr || sql_ != nullptr);
    // ann leads; bob reports to ann, cid to bob; dee left; eve is alone.
    // Teams: eng, and web under eng.
    Plan first;
    first.create_teams = {T("eng", "", "ann"), T("web", "eng")};
    first.create_people = {
        P("ann", "", "eng"), P("bob", "ann", "web"), P("cid", "bob", "web"),
        P("dee", "ann", "eng", PersonStatus::kTerminated), P("eve")};
    ASSERT_TRUE(Apply(first).ok());
  }

  void TearDown() override {
    repo_.reset();
    chains_.reset();
    entities_.reset();
    sql_.reset();
    db_.reset();
    testing::RemoveTree(dir_);
  }

  void Open(const std::string& url) {
    auto db = storage::Database::Open({.url = url, .pool_size = 2});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(storage::Migrate(*db_, "people", PeopleMigrations()).ok());
    sql_ = std::make_unique<SqlPeopleRepository>(db_.get());
    if (GetParam() != Kind::kCachedSqlite) return;
    entities_ =
        std::make_unique<cache::Cache>(nullptr, cache::CacheOptions{}, nullptr);
    chains_ =
        std::make_unique<cache::Cache>(nullptr, cache::CacheOptions{}, nullptr);
    repo_ = std::make_unique<CachedPeopleRepository>(
        sql_.get(), entities_.get(), chains_.get(), /*local_capacity=*/1000);
  }

  PeopleRepository& repo() {
    return repo_ != nullptr ? *repo_ : static_cast<PeopleRepository&>(*sql_);
  }

  using Plan = SyncPlan;

  // Applies `plan` in one sync; the change-log position it ended at.
  absl::StatusOr<int64_t> Apply(const Plan& plan) {
    int64_t seq = -1;
    auto st = repo().Sync(
        false, [&](SyncTx& tx) { return tx.Apply(plan); }, &seq);
    if (!st.ok()) return st;
    return seq;
  }

  absl::StatusOr<Snapshot> ReadAll() {
    Snapshot snap;
    int64_t seq = -1;
    auto st = repo().Sync(
        true,
        [&](SyncTx& tx) -> absl::Status {
          auto s = tx.ReadAll();
          if (!s.ok()) return s.status();
          snap = std::move(*s);
          return absl::OkStatus();
        },
        &seq);
    if (!st.ok()) return st;
    EXPECT_EQ(seq, 0) << "a dry run moves no feed";
    return snap;
  }

  std::string dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<SqlPeopleRepository> sql_;
  std::unique_ptr<cache::Cache> entities_;
  std::unique_ptr<cache::Cache> chains_;
  std::unique_ptr<PeopleRepository> repo_;
};

TEST_P(PeopleRepositoryContract, ASyncWritesWhatTheReadsReturn) {
  auto bob = repo().GetPerson("bob");
  ASSERT_TRUE(bob.ok()) << bob.status();
  Person want = P("bob", "ann", "web");
  EXPECT_EQ(bob->external_id, want.external_id);
  EXPECT_EQ(bob->email, want.email);
  EXPECT_EQ(bob->display_name, want.display_name);
  EXPECT_EQ(bob->title, want.title);
  EXPECT_EQ(bob->team_id, "web");
  EXPECT_EQ(bob->manager_id, "ann");
  EXPECT_EQ(bob->status, PersonStatus::kActive);
  EXPECT_EQ(bob->start_date, "2020-01-15");
  EXPECT_THAT(bob->roles, ElementsAre("employee"));
  EXPECT_EQ(bob->revision, 1);
  EXPECT_EQ(bob->create_time, 1000);

  EXPECT_THAT(repo().GetPerson("zed"), StatusIs(absl::StatusCode::kNotFound,
                                                "people/zed does not exist"));
  auto some = repo().GetPeople({"eve", "zed", "ann"});
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_THAT(Ids(*some), ElementsAre("eve", "ann"));

  auto by_ext = repo().FindByExternalId("E-cid");
  ASSERT_TRUE(by_ext.ok()) << by_ext.status();
  EXPECT_EQ(by_ext->id, "cid");
  auto by_email = repo().FindByEmail("dee@example.com");
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  EXPECT_EQ(by_email->id, "dee");
  EXPECT_THAT(repo().FindByExternalId("E-zed"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(repo().FindByEmail("zed@example.com"),
              StatusIs(absl::StatusCode::kNotFound));

  auto web = repo().GetTeam("web");
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(web->parent_id, "eng");
  EXPECT_EQ(web->display_name, "Team web");
  EXPECT_THAT(repo().GetTeam("ops"), StatusIs(absl::StatusCode::kNotFound,
                                              "teams/ops does not exist"));
}

TEST_P(PeopleRepositoryContract, ListsRunInIdOrderAfterTheCursor) {
  auto first = repo().ListPeople({}, After("", 2));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Ids(*first), ElementsAre("ann", "bob"));
  auto rest = repo().ListPeople({}, After("bob", 10));
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(Ids(*rest), ElementsAre("cid", "dee", "eve"));

  PeopleFilter in_web;
  in_web.team_id = "web";
  EXPECT_THAT(Ids(*repo().ListPeople(in_web, After("", 10))),
              ElementsAre("bob", "cid"));
  PeopleFilter under_ann;
  under_ann.manager_id = "ann";
  EXPECT_THAT(Ids(*repo().ListPeople(under_ann, After("", 10))),
              ElementsAre("bob", "dee"));
  under_ann.status = static_cast<int>(PersonStatus::kActive);
  EXPECT_THAT(Ids(*repo().ListPeople(under_ann, After("", 10))),
              ElementsAre("bob"));

  auto teams = repo().ListTeams("", After("", 10));
  ASSERT_TRUE(teams.ok()) << teams.status();
  ASSERT_EQ(teams->size(), 2u);
  EXPECT_EQ((*teams)[0].id, "eng");
  auto under_eng = repo().ListTeams("eng", After("", 10));
  ASSERT_TRUE(under_eng.ok()) << under_eng.status();
  ASSERT_EQ(under_eng->size(), 1u);
  EXPECT_EQ((*under_eng)[0].id, "web");
  EXPECT_THAT(*repo().ListTeams("", After("eng", 10)),
              ElementsAre(Field(&Team::id, "web")));
}

TEST_P(PeopleRepositoryContract, ReportsAndTheChainFollowManagers) {
  EXPECT_THAT(Ids(*repo().ListReports("ann", false, 0, After("", 10))),
              ElementsAre("bob", "dee"));
  EXPECT_THAT(Ids(*repo().ListReports("ann", true, 0, After("", 10))),
              ElementsAre("bob", "cid", "dee"));
  EXPECT_THAT(
      Ids(*repo().ListReports(
          "ann", true, static_cast<int>(PersonStatus::kActive), After("", 10))),
      ElementsAre("bob", "cid"));
  EXPECT_THAT(Ids(*repo().ListReports("ann", true, 0, After("bob", 1))),
              ElementsAre("cid"));
  EXPECT_THAT(*repo().ListReports("eve", true, 0, After("", 10)), IsEmpty());

  EXPECT_THAT(Ids(*repo().ReportingChain("cid")), ElementsAre("bob", "ann"));
  EXPECT_THAT(*repo().ReportingChain("ann"), IsEmpty());
  EXPECT_THAT(
      repo().ReportingChain("zed"),
      StatusIs(absl::StatusCode::kNotFound, "people/zed does not exist"));
}

TEST_P(PeopleRepositoryContract, UpdatesAreSeenByEveryReadAndEmailsMaySwap) {
  // Read first, so that a cache has something to drop.
  ASSERT_TRUE(repo().GetPerson("bob").ok());
  ASSERT_TRUE(repo().FindByEmail("cid@example.com").ok());
  ASSERT_TRUE(repo().ReportingChain("cid").ok());

  Person bob = P("bob", "eve", "web");
  bob.email = "cid@example.com";
  bob.title = "Lead";
  bob.revision = 2;
  bob.update_time = 2000;
  Person cid = P("cid", "bob", "web");
  cid.email = "bob@example.com";
  cid.revision = 2;
  cid.update_time = 2000;
  Team web = T("web", "", "bob");
  web.revision = 2;
  Plan plan;
  plan.update_people = {bob, cid};
  plan.update_teams = {web};
  plan.email_changed_ids = {"bob", "cid"};
  plan.old_emails = {"bob@example.com", "cid@example.com"};
  auto seq = Apply(plan);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_GT(*seq, 0);

  auto got = repo().GetPerson("bob");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->title, "Lead");
  EXPECT_EQ(got->revision, 2);
  EXPECT_EQ(got->update_time, 2000);
  EXPECT_EQ(got->create_time, 1000);
  EXPECT_EQ(repo().FindByEmail("cid@example.com")->id, "bob");
  EXPECT_EQ(repo().FindByEmail("bob@example.com")->id, "cid");
  EXPECT_THAT(Ids(*repo().ReportingChain("cid")), ElementsAre("bob", "eve"));
  EXPECT_EQ(repo().GetTeam("web")->lead_id, "bob");
  EXPECT_EQ(repo().GetTeam("web")->parent_id, "");
  // Memory, where a repository keeps it, holds nothing older than the commit.
  if (auto held = repo().PeekPerson("bob"); held != nullptr) {
    EXPECT_EQ(held->value().revision, 2);
  }

  auto snap = ReadAll();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->people.size(), 5u);
  EXPECT_EQ(snap->teams.size(), 2u);
}

TEST_P(PeopleRepositoryContract, ADryRunAndAFailedSyncWriteNothing) {
  int64_t seq = -1;
  Plan plan;
  plan.create_people = {P("fay")};
  auto dry = repo().Sync(
      true,
      [&](SyncTx& tx) -> absl::Status {
        EXPECT_THAT(tx.Apply(plan),
                    StatusIs(absl::StatusCode::kFailedPrecondition));
        EXPECT_THAT(
            tx.RecordIdempotent({"s", "r", "f"}, [](int64_t) { return "x"; }),
            StatusIs(absl::StatusCode::kFailedPrecondition));
        return absl::OkStatus();
      },
      &seq);
  ASSERT_TRUE(dry.ok()) << dry;
  EXPECT_EQ(seq, 0);

  auto failed = repo().Sync(
      false,
      [&](SyncTx& tx) -> absl::Status {
        if (auto st = tx.Apply(plan); !st.ok()) return st;
        return absl::FailedPreconditionError("refused after writing");
      },
      &seq);
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kFailedPrecondition,
                               "refused after writing"));
  EXPECT_EQ(seq, 0);

  EXPECT_THAT(repo().GetPerson("fay"), StatusIs(absl::StatusCode::kNotFound));
  auto snap = ReadAll();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->people.size(), 5u);
}

TEST_P(PeopleRepositoryContract, AnAnswerIsKeptWithTheFeedPositionOfItsSync) {
  Idempotency idem{"SyncPeople|hr", "run-1", "fp-1"};
  Plan plan;
  plan.create_people = {P("fay"), P("gus")};
  int64_t seq = -1;
  auto st = repo().Sync(
      false,
      [&](SyncTx& tx) -> absl::Status {
        auto prior = tx.FindIdempotent(idem);
        if (!prior.ok()) return prior.status();
        EXPECT_EQ(*prior, std::nullopt);
        if (auto s = tx.Apply(plan); !s.ok()) return s;
        return tx.RecordIdempotent(
            idem, [](int64_t last) { return absl::StrCat("seq=", last); });
      },
      &seq);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_GT(seq, 0);

  auto find = [&](const Idempotency& key)
      -> absl::StatusOr<std::optional<std::string>> {
    absl::StatusOr<std::optional<std::string>> out;
    int64_t ignored = 0;
    auto s = repo().Sync(
        true,
        [&](SyncTx& tx) {
          out = tx.FindIdempotent(key);
          return absl::OkStatus();
        },
        &ignored);
    if (!s.ok()) return s;
    return out;
  };
  auto found = find(idem);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(*found, Optional(absl::StrCat("seq=", seq)));
  Idempotency reused = idem;
  reused.fingerprint = "fp-2";
  EXPECT_THAT(find(reused), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("request_id")));
  Idempotency other = idem;
  other.request_id = "run-2";
  Idempotency elsewhere = idem;
  elsewhere.scope = "SyncPeople|someone-else";
  for (const auto& key : {other, elsewhere}) {
    auto none = find(key);
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_EQ(*none, std::nullopt) << key.scope << " " << key.request_id;
  }
}

INSTANTIATE_TEST_SUITE_P(Repositories, PeopleRepositoryContract,
                         ::testing::Values(Kind::kFake, Kind::kSqlite,
                                           Kind::kPostgres,
                                           Kind::kCachedSqlite),
                         KindName);

}  // namespace
}  // namespace sightline::people
