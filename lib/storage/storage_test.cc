#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.pb.h"
#include "gtest/gtest.h"
#include "lib/storage/change_log.h"
#include "lib/storage/database.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/schema.h"
#include "lib/storage/tokens.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"
#include "prometheus/registry.h"

namespace sightline::storage {
namespace {

using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;

// One PostgreSQL cluster for the whole binary; each test gets a database.
class PostgresEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = testing::MakeTempDir("storage-pg");
    pg_ = std::make_unique<testing::PostgresServer>(dir_);
    auto st = pg_->Start();
    ASSERT_TRUE(st.ok()) << st;
  }
  void TearDown() override {
    pg_.reset();
    testing::RemoveTree(dir_);
  }
  static std::string NewDatabase() {
    static std::atomic<int> n{0};
    auto url = pg_->CreateDatabase(absl::StrCat("t", n++));
    EXPECT_TRUE(url.ok()) << url.status();
    return url.ok() ? *url : "";
  }

 private:
  std::string dir_;
  static std::unique_ptr<testing::PostgresServer> pg_;
};
std::unique_ptr<testing::PostgresServer> PostgresEnv::pg_;
::testing::Environment* const kPgEnv =
    ::testing::AddGlobalTestEnvironment(new PostgresEnv);

const std::vector<Migration>& TestMigrations() {
  static const auto* m = new std::vector<Migration>{
      {1, "items",
       "CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL);\n", ""},
      {2, "items label", "ALTER TABLE items ADD COLUMN label TEXT;\n", ""},
  };
  return *m;
}

class DatabaseTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("storage");
    url_ = GetParam() == Dialect::kSqlite ? dir_ + "/sub/dir/test.db"
                                          : PostgresEnv::NewDatabase();
    auto db =
        Database::Open({.url = url_, .pool_size = 4, .registry = &registry_});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_THAT(Migrate(*db_, "test", TestMigrations()), IsOk());
  }
  void TearDown() override {
    db_.reset();
    testing::RemoveTree(dir_);
  }

  absl::Status Insert(const std::string& id, long long n, bool emit = true,
                      int64_t* seq = nullptr) {
    return db_->Write(
        "items.insert",
        [&](Tx& tx) {
          tx.sql() << "INSERT INTO items (id, n) VALUES (:id, :n)",
              soci::use(id), soci::use(n);
          if (emit) tx.Emit({"item", id, 1, absl::StrCat("payload-", id), ""});
          return absl::OkStatus();
        },
        seq);
  }

  long long Count() {
    long long c = -1;
    EXPECT_THAT(db_->Read("items.count",
                          [&](soci::session& sql) {
                            sql << "SELECT COUNT(*) FROM items", soci::into(c);
                            return absl::OkStatus();
                          }),
                IsOk());
    return c;
  }

  prometheus::Registry registry_;
  std::string dir_;
  std::string url_;
  std::unique_ptr<Database> db_;
};

TEST_P(DatabaseTest, MigrationsAreVersionedAndRerunnable) {
  EXPECT_EQ(*SchemaVersion(*db_, "test"), 2);
  EXPECT_EQ(*SchemaVersion(*db_, "core"),
            static_cast<int>(CoreMigrations().size()));
  EXPECT_THAT(Migrate(*db_, "test", TestMigrations()), IsOk());
  EXPECT_EQ(*SchemaVersion(*db_, "test"), 2);
  std::vector<Migration> older(TestMigrations().begin(),
                               TestMigrations().begin() + 1);
  EXPECT_THAT(
      Migrate(*db_, "test", older),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

TEST_P(DatabaseTest, WriteCommitsOnOkAndRollsBackOnError) {
  int64_t seq = 0;
  ASSERT_THAT(Insert("a", 1, true, &seq), IsOk());
  bool after_ran = false;
  absl::Status st = db_->Write("items.bad", [&](Tx& tx) {
    tx.sql() << "INSERT INTO items (id, n) VALUES ('b', 2)";
    tx.Emit({"item", "b", 1, "x", ""});
    tx.AfterCommit([&] { after_ran = true; });
    return absl::InvalidArgumentError("refused");
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(after_ran);
  EXPECT_EQ(Count(), 1);
  EXPECT_EQ(*HeadSeq(*db_), seq);
}

TEST_P(DatabaseTest, AbortedFromTheBodyIsFinalNotRetried) {
  // ABORTED returned by the transaction body (an etag mismatch) is the
  // caller's answer; only a conflict the database reports is run again.
  int runs = 0;
  absl::Status st = db_->Write("items.stale", [&](Tx& tx) {
    ++runs;
    tx.sql() << "INSERT INTO items (id, n) VALUES ('s', 1)";
    return absl::AbortedError("etag mismatch");
  });
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kAborted, HasSubstr("etag")));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(Count(), 0);
}

// PostgreSQL reports a lost serialization race by SQLSTATE, which a
// statement can raise on purpose.
class PostgresConflictTest : public DatabaseTest {};
INSTANTIATE_TEST_SUITE_P(Postgres, PostgresConflictTest,
                         ::testing::Values(Dialect::kPostgres));

TEST_P(PostgresConflictTest, ConflictThatOutlivesEveryRetryIsUnavailable) {
  // Every attempt loses its race (SQLSTATE 40001): retried inside Write,
  // then UNAVAILABLE, never ABORTED (which clients read as a stale etag).
  int runs = 0;
  absl::Status st = db_->Write("items.contended", [&](Tx& tx) {
    ++runs;
    tx.sql() << "DO $$ BEGIN RAISE EXCEPTION 'lost the race' USING ERRCODE "
                "= '40001'; END $$";
    return absl::OkStatus();
  });
  EXPECT_THAT(
      st, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("contention")));
  EXPECT_GT(runs, 1);
  // One that wins on a later attempt is simply done.
  runs = 0;
  st = db_->Write("items.contended_once", [&](Tx& tx) {
    if (++runs == 1) {
      tx.sql() << "DO $$ BEGIN RAISE EXCEPTION 'lost once' USING ERRCODE = "
                  "'40001'; END $$";
    }
    tx.sql() << "INSERT INTO items (id, n) VALUES ('won', 1)";
    return absl::OkStatus();
  });
  EXPECT_THAT(st, IsOk());
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(Count(), 1);
}

// Writers no longer share a counter row: concurrent writers that touch
// different rows all commit at the first attempt, and the log holds each of
// their changes once, in increasing positions.
TEST_P(PostgresConflictTest, ConcurrentWritersDoNotConflictOnTheChangeLog) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!Insert(absl::StrCat("w", t, "-", i), i).ok()) ++failed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  auto rows = ReadChanges(*db_, 0, 10000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> names;
  for (size_t i = 0; i < rows->size(); ++i) {
    names.insert((*rows)[i].name);
    if (i > 0) {
      EXPECT_GT((*rows)[i].seq, (*rows)[i - 1].seq);
    }
  }
  EXPECT_EQ(names.size(), rows->size());
  // No attempt was retried: nothing left for writers to conflict on.
  double retries = -1;
  for (const auto& family : registry_.Collect()) {
    if (family.name == "sightline_sql_retries_total") {
      retries = family.metric.at(0).counter.value;
    }
  }
  EXPECT_EQ(retries, 0);
}

// A transaction that took its position first but commits last is not passed
// over by a reader following the log, and nobody sees anything twice.
TEST_P(PostgresConflictTest, ReaderWaitsForAnEarlierTransactionStillOpen) {
  absl::Notification appended, release;
  int64_t early = 0, late = 0;
  // Session 1: takes a transaction id, appends, then stays open.
  std::thread slow([&] {
    EXPECT_THAT(db_->Write("items.slow",
                           [&](Tx& tx) {
                             tx.sql() << "INSERT INTO items (id, n) VALUES "
                                         "('early', 1)";
                             tx.Emit({"item", "early", 1, "", ""});
                             tx.BeforeCommit([&](Tx& t) {
                               early = t.last_seq();
                               appended.Notify();
                               release.WaitForNotification();
                               return absl::OkStatus();
                             });
                             return absl::OkStatus();
                           }),
                IsOk());
  });
  appended.WaitForNotification();
  // Session 2 (another handle): a later transaction commits first. Its Write
  // returns only once the earlier one has ended.
  auto other = Database::Open({.url = url_, .pool_size = 1});
  ASSERT_TRUE(other.ok());
  std::atomic<bool> late_returned{false};
  std::thread fast([&] {
    EXPECT_THAT((*other)->Write(
                    "items.fast",
                    [](Tx& tx) {
                      tx.sql()
                          << "INSERT INTO items (id, n) VALUES ('late', 2)";
                      tx.Emit({"item", "late", 1, "", ""});
                      return absl::OkStatus();
                    },
                    &late),
                IsOk());
    late_returned = true;
  });
  // Wait (bounded) until the late row is committed, seen by plain SQL.
  long long committed = 0;
  for (int i = 0; i < 500 && committed == 0; ++i) {
    ASSERT_THAT(db_->Read("peek",
                          [&](soci::session& sql) {
                            sql << "SELECT COUNT(*) FROM change_log WHERE "
                                   "name = 'late'",
                                soci::into(committed);
                            return absl::OkStatus();
                          }),
                IsOk());
    if (committed == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(committed, 1);
  // The follower: reads from its cursor, never sees the late row yet.
  int64_t cursor = 0;
  std::vector<ChangeRow> seen;
  for (int i = 0; i < 5; ++i) {
    auto rows = ReadChanges(*db_, cursor, 100);
    ASSERT_TRUE(rows.ok());
    for (auto& r : *rows) {
      cursor = r.seq;
      seen.push_back(r);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(*HeadSeq(*db_), 0);
  EXPECT_FALSE(late_returned.load());
  release.Notify();
  slow.join();
  fast.join();
  EXPECT_LT(early, late);
  for (int i = 0; i < 500 && seen.size() < 2; ++i) {
    auto rows = ReadChanges(*db_, cursor, 100);
    ASSERT_TRUE(rows.ok());
    for (auto& r : *rows) {
      cursor = r.seq;
      seen.push_back(r);
    }
    if (seen.size() < 2) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].name, "early");
  EXPECT_EQ(seen[0].seq, early);
  EXPECT_EQ(seen[1].name, "late");
  EXPECT_EQ(seen[1].seq, late);
  EXPECT_EQ(*HeadSeq(*db_), late);
}

// A conflict the body reports itself (RetryableConflict) is run again like a
// serialization failure, and UNAVAILABLE once every attempt lost.
TEST_P(PostgresConflictTest, ConflictReportedByTheBodyIsRetried) {
  int runs = 0;
  EXPECT_THAT(db_->Write("items.body_conflict",
                         [&](Tx& tx) {
                           if (++runs == 1)
                             return RetryableConflict("lost once");
                           tx.sql() << "INSERT INTO items (id, n) VALUES "
                                       "('body', 1)";
                           return absl::OkStatus();
                         }),
              IsOk());
  EXPECT_EQ(runs, 2);
  runs = 0;
  EXPECT_THAT(
      db_->Write("items.body_conflict_always",
                 [&](Tx&) {
                   ++runs;
                   return RetryableConflict("always");
                 }),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("contention")));
  EXPECT_GT(runs, 1);
  EXPECT_EQ(Count(), 1);
}

double Retries(prometheus::Registry& registry) {
  for (const auto& family : registry.Collect()) {
    if (family.name == "sightline_sql_retries_total")
      return family.metric.at(0).counter.value;
  }
  return -1;
}

// READ COMMITTED writers that lock the one row they read-modify-write: no
// increment is lost, and the change log lists the increments in the order
// they were made (each event carries the value it wrote).
TEST_P(PostgresConflictTest, ReadCommittedWritersWithRowLocksLoseNoUpdate) {
  ASSERT_THAT(Insert("counter", 0, /*emit=*/false), IsOk());
  const double retries_before = Retries(registry_);
  constexpr int kThreads = 8, kPerThread = 40;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status st = db_->Write(
            "items.increment",
            [&](Tx& tx) {
              EXPECT_EQ(tx.isolation(), Isolation::kReadCommitted);
              std::vector<std::string> found;
              if (auto s =
                      LockRowsInOrder(tx, "items", "id", {"counter"}, &found);
                  !s.ok()) {
                return s;
              }
              if (found.size() != 1)
                return absl::InternalError("counter row missing");
              long long n = 0;
              tx.sql() << "SELECT n FROM items WHERE id = 'counter'",
                  soci::into(n);
              ++n;
              tx.sql() << "UPDATE items SET n = :n WHERE id = 'counter'",
                  soci::use(n);
              tx.Emit({"item", "counter", 2, absl::StrCat(n), ""});
              return absl::OkStatus();
            },
            nullptr, Isolation::kReadCommitted);
        if (!st.ok()) {
          ADD_FAILURE() << st;
          ++failed;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  long long n = -1;
  ASSERT_THAT(db_->Read("items.counter",
                        [&](soci::session& sql) {
                          sql << "SELECT n FROM items WHERE id = 'counter'",
                              soci::into(n);
                          return absl::OkStatus();
                        }),
              IsOk());
  EXPECT_EQ(n, kThreads * kPerThread);
  auto rows = ReadChanges(*db_, 0, 10000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i].payload, absl::StrCat(i + 1)) << "position " << i;
  }
  // Printed, not asserted: retries depend on how the lock queue is served.
  std::printf("read committed increments: %d, retries: %.0f\n",
              kThreads * kPerThread, Retries(registry_) - retries_before);
}

// A row last written by a transaction younger than the locker (it committed
// after the locker took its id) would put the locker's change-log entries
// before the ones it read: the locker runs again, with a newer id.
TEST_P(PostgresConflictTest, RowWrittenByAYoungerTransactionIsRetried) {
  ASSERT_THAT(Insert("row", 0, /*emit=*/false), IsOk());
  auto other = Database::Open({.url = url_, .pool_size = 1});
  ASSERT_TRUE(other.ok());
  absl::Notification have_id;
  std::thread younger;
  int runs = 0;
  int64_t locker_seq = 0, younger_seq = 0;
  long long seen = -1;
  absl::Status st = db_->Write(
      "items.locker",
      [&](Tx& tx) {
        if (++runs == 1) {
          // Take an id, then let a younger transaction change the row and
          // commit before this one locks it.
          long long xid = 0;
          tx.sql() << "SELECT pg_current_xact_id()::text::bigint",
              soci::into(xid);
          younger = std::thread([&] {
            EXPECT_THAT((*other)->Write(
                            "items.younger",
                            [](Tx& t) {
                              t.sql() << "UPDATE items SET n = 7 WHERE id = "
                                         "'row'";
                              t.Emit({"item", "row", 2, "7", ""});
                              return absl::OkStatus();
                            },
                            &younger_seq),
                        IsOk());
          });
          long long n = 0;
          for (int i = 0; i < 1000 && n != 7; ++i) {
            EXPECT_THAT(db_->Read("peek",
                                  [&](soci::session& sql) {
                                    sql << "SELECT n FROM items WHERE id = "
                                           "'row'",
                                        soci::into(n);
                                    return absl::OkStatus();
                                  }),
                        IsOk());
            if (n != 7) absl::SleepFor(absl::Milliseconds(10));
          }
          EXPECT_EQ(n, 7);
        }
        if (auto s = LockRowsInOrder(tx, "items", "id", {"row"}); !s.ok())
          return s;
        tx.sql() << "SELECT n FROM items WHERE id = 'row'", soci::into(seen);
        long long next = seen + 1;
        tx.sql() << "UPDATE items SET n = :n WHERE id = 'row'", soci::use(next);
        tx.Emit({"item", "row", 2, absl::StrCat(next), ""});
        return absl::OkStatus();
      },
      &locker_seq, Isolation::kReadCommitted);
  if (younger.joinable()) younger.join();
  EXPECT_THAT(st, IsOk());
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(seen, 7);
  EXPECT_GT(locker_seq, younger_seq);
}

// Two READ COMMITTED writes record the same request id at once: the second
// waits for the first's insert, and once that commits runs again and finds
// the first answer instead of failing on the unique key.
TEST_P(PostgresConflictTest, ConcurrentSameRequestIdGetsTheFirstAnswer) {
  absl::Notification recorded, release;
  auto body = [&](const std::string& answer, bool hold, std::string* out,
                  int* runs) {
    return [&, answer, hold, out, runs](Tx& tx) -> absl::Status {
      ++*runs;
      auto prior = LookupIdempotent(tx.sql(), "scope", "req", "fp");
      if (!prior.ok()) return prior.status();
      if (prior->has_value()) {
        *out = **prior;
        return absl::OkStatus();
      }
      if (auto s = RecordIdempotent(tx, "scope", "req", "fp", answer);
          !s.ok()) {
        return s;
      }
      tx.sql() << "INSERT INTO items (id, n) VALUES (:id, 1)",
          soci::use(answer);
      *out = answer;
      if (hold) {
        recorded.Notify();
        release.WaitForNotification();
      }
      return absl::OkStatus();
    };
  };
  std::string first_out, second_out;
  int first_runs = 0, second_runs = 0;
  std::thread first([&] {
    EXPECT_THAT(
        db_->Write("idem.first", body("first", true, &first_out, &first_runs),
                   nullptr, Isolation::kReadCommitted),
        IsOk());
  });
  recorded.WaitForNotification();
  auto other = Database::Open({.url = url_, .pool_size = 1});
  ASSERT_TRUE(other.ok());
  std::thread second([&] {
    EXPECT_THAT(
        (*other)->Write("idem.second",
                        body("second", false, &second_out, &second_runs),
                        nullptr, Isolation::kReadCommitted),
        IsOk());
  });
  // Release the first once the second waits on its key (bounded).
  long long waiting = 0;
  for (int i = 0; i < 1000 && waiting == 0; ++i) {
    ASSERT_THAT(db_->Read("waiting",
                          [&](soci::session& sql) {
                            sql << "SELECT COUNT(*) FROM pg_stat_activity "
                                   "WHERE wait_event_type = 'Lock' AND "
                                   "datname = current_database()",
                                soci::into(waiting);
                            return absl::OkStatus();
                          }),
                IsOk());
    if (waiting == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(waiting, 1);
  release.Notify();
  first.join();
  second.join();
  EXPECT_EQ(first_out, "first");
  EXPECT_EQ(second_out, "first");
  EXPECT_EQ(first_runs, 1);
  EXPECT_EQ(second_runs, 2);
  EXPECT_EQ(Count(), 1);
}

// Many writers holding their transactions open for random times, and a
// follower reading from its cursor all along: what it saw is exactly the
// final log, each change once.
TEST_P(PostgresConflictTest,
       FollowerSeesEveryChangeOnceUnderOutOfOrderCommits) {
  constexpr int kThreads = 6, kPerThread = 30;
  std::atomic<int> writers{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      absl::BitGen gen;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("r", t, "-", i);
        const auto hold = absl::Microseconds(absl::Uniform(gen, 0, 3000));
        EXPECT_THAT(db_->Write("items.held",
                               [&](Tx& tx) {
                                 long long n = i;
                                 tx.sql() << "INSERT INTO items (id, n) "
                                             "VALUES (:id, :n)",
                                     soci::use(id), soci::use(n);
                                 tx.Emit({"item", id, 1, "", ""});
                                 tx.BeforeCommit([hold](Tx&) {
                                   absl::SleepFor(hold);
                                   return absl::OkStatus();
                                 });
                                 return absl::OkStatus();
                               }),
                    IsOk());
      }
      --writers;
    });
  }
  int64_t cursor = 0;
  std::vector<ChangeRow> seen;
  for (int i = 0; i < 20000; ++i) {
    const bool done = writers.load() == 0;
    auto rows = ReadChanges(*db_, cursor, 7);
    ASSERT_TRUE(rows.ok());
    for (auto& r : *rows) {
      EXPECT_GT(r.seq, cursor);
      cursor = r.seq;
      seen.push_back(r);
    }
    if (done && rows->empty()) break;
  }
  for (auto& th : threads) th.join();
  auto all = ReadChanges(*db_, 0, 10000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<size_t>(kThreads * kPerThread));
  ASSERT_EQ(seen.size(), all->size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].seq, (*all)[i].seq);
    EXPECT_EQ(seen[i].name, (*all)[i].name);
  }
}

TEST_P(DatabaseTest, UniqueViolationIsAlreadyExists) {
  int64_t seq = 0;
  ASSERT_THAT(Insert("a", 1, true, &seq), IsOk());
  EXPECT_THAT(Insert("a", 2), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_GT(seq, 0);
  EXPECT_EQ(*HeadSeq(*db_), seq);
}

TEST_P(DatabaseTest, ChangeLogKeepsCommitOrderWithoutGaps) {
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = absl::StrCat("t", t, "-", i);
        // Two events per transaction: they must stay adjacent.
        absl::Status st = db_->Write("items.insert2", [&](Tx& tx) {
          long long n = i;
          tx.sql() << "INSERT INTO items (id, n) VALUES (:id, :n)",
              soci::use(id), soci::use(n);
          tx.Emit({"item", id, 1, "first", ""});
          tx.Emit({"item", id, 2, "second", ""});
          return absl::OkStatus();
        });
        EXPECT_THAT(st, IsOk());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto rows = ReadChanges(*db_, 0, 10000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(2 * kThreads * kPerThread));
  for (size_t i = 0; i < rows->size(); ++i) {
    // SQLite numbers consecutively; PostgreSQL's positions are sparse but
    // strictly increasing, and a transaction's events stay adjacent.
    if (GetParam() == Dialect::kSqlite) {
      EXPECT_EQ((*rows)[i].seq, static_cast<int64_t>(i + 1));
    } else if (i > 0) {
      EXPECT_GT((*rows)[i].seq, (*rows)[i - 1].seq);
    }
    if (i % 2 == 1) {
      EXPECT_EQ((*rows)[i].seq, (*rows)[i - 1].seq + 1);
      EXPECT_EQ((*rows)[i].name, (*rows)[i - 1].name);
      EXPECT_EQ((*rows)[i].payload, "second");
    }
  }
  auto page = ReadChanges(*db_, (*rows)[9].seq, 5);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 5u);
  EXPECT_EQ(page->front().seq, (*rows)[10].seq);
  EXPECT_EQ(*HeadSeq(*db_), rows->back().seq);
}

TEST_P(DatabaseTest, PayloadsAreBinarySafe) {
  std::string binary("\0\x01\xff\n'\"", 6);
  ASSERT_THAT(db_->Write("bin",
                         [&](Tx& tx) {
                           tx.Emit({"item", "x", 1, binary, "scope"});
                           return absl::OkStatus();
                         }),
              IsOk());
  auto rows = ReadChanges(*db_, 0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].payload, binary);
  EXPECT_EQ((*rows)[0].scope, "scope");
}

TEST_P(DatabaseTest, CommitListenersAndFeedSeeEveryCommit) {
  ChangeFeed feed(db_.get(), absl::Milliseconds(50));
  feed.Start();
  std::atomic<int64_t> seen{0};
  int id = feed.Subscribe([&](int64_t head) { seen = head; });
  int64_t first = 0;
  ASSERT_THAT(Insert("a", 1, true, &first), IsOk());
  EXPECT_EQ(seen.load(), first);
  // A commit by another process (a second handle on the same database) is
  // found by polling.
  auto other = Database::Open({.url = url_, .pool_size = 1});
  ASSERT_TRUE(other.ok());
  int64_t second = 0;
  ASSERT_THAT((*other)->Write(
                  "other",
                  [](Tx& tx) {
                    tx.Emit({"item", "z", 1, "", ""});
                    return absl::OkStatus();
                  },
                  &second),
              IsOk());
  EXPECT_GT(second, first);
  EXPECT_EQ(feed.WaitBeyond(first, absl::Seconds(10)), second);
  feed.Unsubscribe(id);
  feed.Stop();
}

TEST_P(DatabaseTest, IdempotencyRecordsAnswerRetriesAndRefuseReuse) {
  ASSERT_THAT(db_->Write("idem",
                         [&](Tx& tx) {
                           auto found = LookupIdempotent(tx.sql(), "scope",
                                                         "req-1", "fp1");
                           EXPECT_TRUE(found.ok());
                           EXPECT_FALSE(found->has_value());
                           return RecordIdempotent(tx, "scope", "req-1", "fp1",
                                                   std::string("\0answer", 7));
                         }),
              IsOk());
  ASSERT_THAT(
      db_->Read("idem.read",
                [&](soci::session& sql) {
                  auto same = LookupIdempotent(sql, "scope", "req-1", "fp1");
                  EXPECT_TRUE(same.ok());
                  EXPECT_EQ(same->value_or(""), std::string("\0answer", 7));
                  EXPECT_THAT(LookupIdempotent(sql, "scope", "req-1", "fp2"),
                              StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("request_id")));
                  auto other_scope =
                      LookupIdempotent(sql, "other", "req-1", "fp2");
                  EXPECT_TRUE(other_scope.ok());
                  EXPECT_FALSE(other_scope->has_value());
                  return absl::OkStatus();
                }),
      IsOk());
}

TEST_P(DatabaseTest, PruneKeepsNewestChange) {
  int64_t a = 0, b = 0;
  ASSERT_THAT(Insert("a", 1, true, &a), IsOk());
  ASSERT_THAT(Insert("b", 2, true, &b), IsOk());
  EXPECT_EQ(*ChangedScopes(*db_, 0, b), std::vector<std::string>{});
  auto pruned = PruneChanges(*db_, absl::Now() + absl::Hours(1));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  // Resuming after `a` still sees everything; from before it, not.
  EXPECT_EQ(*OldestSeq(*db_) - 1, a);
  EXPECT_EQ(*HeadSeq(*db_), b);
  EXPECT_TRUE(ChangedScopes(*db_, a, b).ok());
  EXPECT_THAT(ChangedScopes(*db_, 0, b),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_P(DatabaseTest, SequenceContinuesAfterPruningEverythingButTheNewest) {
  int64_t b = 0, c = 0;
  ASSERT_THAT(Insert("a", 1), IsOk());
  ASSERT_THAT(Insert("b", 2, true, &b), IsOk());
  ASSERT_TRUE(PruneChanges(*db_, absl::Now() + absl::Hours(1)).ok());
  ASSERT_THAT(Insert("c", 3, true, &c), IsOk());
  EXPECT_GT(c, b);
  auto rows = ReadChanges(*db_, 0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].seq, b);
  EXPECT_EQ((*rows)[1].seq, c);
  EXPECT_EQ((*rows)[1].name, "c");
  EXPECT_EQ(*HeadSeq(*db_), c);
}

INSTANTIATE_TEST_SUITE_P(Dialects, DatabaseTest,
                         ::testing::Values(Dialect::kSqlite,
                                           Dialect::kPostgres),
                         [](const auto& info) {
                           return info.param == Dialect::kSqlite ? "Sqlite"
                                                                 : "Postgres";
                         });

// A PostgreSQL database made by an older binary (core schema version 2, the
// counter row) keeps its log, numbering and pruning point when opened.
TEST(PostgresUpgradeTest, CounterRowDatabaseKeepsItsLogAndNumbering) {
  const std::string url = PostgresEnv::NewDatabase();
  {
    auto conn = PostgresConnectString(url);
    ASSERT_TRUE(conn.ok());
    soci::session sql(*soci::factory_postgresql(), *conn);
    const auto& core = CoreMigrations();
    ASSERT_THAT(
        RunMigrations(sql, Dialect::kPostgres, "core", {core[0], core[1]}),
        IsOk());
    // Entry 1 was pruned already; 2..5 are kept.
    for (long long seq = 2; seq <= 5; ++seq) {
      const std::string name = absl::StrCat("n", seq);
      sql << "INSERT INTO change_log (seq, commit_time, entity, name, kind, "
             "payload, scope) VALUES (:s, :t, 'item', :n, 1, '', :c)",
          soci::use(seq), soci::use(seq), soci::use(name), soci::use(name);
    }
    sql << "UPDATE change_counter SET seq = 5 WHERE id = 1";
  }
  auto db = Database::Open({.url = url});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*SchemaVersion(**db, "core"),
            static_cast<int>(CoreMigrations().size()));
  EXPECT_EQ(*HeadSeq(**db), 5);
  EXPECT_EQ(*OldestSeq(**db), 2);
  EXPECT_THAT(ChangedScopes(**db, 0, 5),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(ChangedScopes(**db, 1, 5)->size(), 4u);
  int64_t seq = 0;
  ASSERT_THAT((*db)->Write(
                  "emit",
                  [](Tx& tx) {
                    tx.Emit({"item", "z", 1, "new", "z"});
                    return absl::OkStatus();
                  },
                  &seq),
              IsOk());
  EXPECT_GT(seq, 5);
  EXPECT_EQ(*HeadSeq(**db), seq);
  auto rows = ReadChanges(**db, 1, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 5u);
  EXPECT_EQ((*rows)[0].seq, 2);
  EXPECT_EQ((*rows)[3].seq, 5);
  EXPECT_EQ((*rows)[4].seq, seq);
  EXPECT_EQ((*rows)[4].payload, "new");
  int counters = -1;
  ASSERT_THAT((*db)->Read("schema",
                          [&](soci::session& sql) {
                            sql << "SELECT COUNT(*) FROM pg_tables WHERE "
                                   "tablename = 'change_counter'",
                                soci::into(counters);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(counters, 0);
}

// A small load, for the figures in docs/changelog-postgres.md (no timing is
// asserted): 8 threads each committing 200 rows, each with a change event.
TEST(PostgresWriteLoadTest, EightWritersEachCommitTheirRows) {
  constexpr int kThreads = 8, kPerThread = 200;
  prometheus::Registry registry;
  auto db = Database::Open({.url = PostgresEnv::NewDatabase(),
                            .pool_size = 8,
                            .registry = &registry});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_THAT(Migrate(**db, "test", TestMigrations()), IsOk());
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("load", t, "-", i);
        absl::Status st = (*db)->Write("items.load", [&](Tx& tx) {
          long long n = i;
          tx.sql() << "INSERT INTO items (id, n) VALUES (:id, :n)",
              soci::use(id), soci::use(n);
          tx.Emit({"item", id, 1, "payload", ""});
          return absl::OkStatus();
        });
        if (!st.ok()) ++failed;
      }
    });
  }
  for (auto& th : threads) th.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  double retries = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name == "sightline_sql_retries_total") {
      retries = family.metric.at(0).counter.value;
    }
  }
  const int total = kThreads * kPerThread;
  std::printf(
      "postgres write load: %d writes by %d threads in %.3f s = %.0f "
      "writes/s, %.0f retries, %d failed\n",
      total, kThreads, seconds, (total - failed.load()) / seconds, retries,
      failed.load());
  EXPECT_EQ(failed.load(), 0);
  auto rows = ReadChanges(**db, 0, 2 * total);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), static_cast<size_t>(total - failed.load()));
}

TEST(DatabaseOpenTest, SqliteRunsInWalMode) {
  std::string dir = testing::MakeTempDir("wal");
  auto db = Database::Open({.url = "sqlite://" + dir + "/x.db"});
  ASSERT_TRUE(db.ok()) << db.status();
  std::string mode;
  ASSERT_THAT((*db)->Read("pragma",
                          [&](soci::session& sql) {
                            sql << "PRAGMA journal_mode", soci::into(mode);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(mode, "wal");
  int sync = -1;
  ASSERT_THAT((*db)->Read("pragma",
                          [&](soci::session& sql) {
                            sql << "PRAGMA synchronous", soci::into(sync);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(sync, 2);  // FULL: a commit is durable before Write returns
  testing::RemoveTree(dir);
}

// A database made by an older binary (core schema version 1, sequence numbers
// from a counter row) keeps its change log and numbering when opened, and the
// pages the rebuilt log left free are given back.
TEST(DatabaseOpenTest, SqliteChangeLogUpgradeKeepsEntriesAndNumbering) {
  std::string dir = testing::MakeTempDir("core-upgrade");
  const std::string path = dir + "/old.db";
  constexpr int kOld = 3000;
  {
    soci::session sql(*soci::factory_sqlite3(), "db=" + path);
    ASSERT_THAT(RunMigrations(sql, Dialect::kSqlite, "core",
                              {CoreMigrations().front()}),
                IsOk());
    const std::string payload(400, 'A');  // base64 of 300 zero bytes
    sql << "BEGIN";
    for (long long seq = 1; seq <= kOld; ++seq) {
      const std::string name = absl::StrCat("n", seq);
      sql << "INSERT INTO change_log (seq, commit_time, entity, name, kind, "
             "payload, scope) VALUES (:s, :t, 'item', :n, 1, :p, :c)",
          soci::use(seq), soci::use(seq), soci::use(name), soci::use(payload),
          soci::use(name);
    }
    const long long last = kOld;
    sql << "UPDATE change_counter SET seq = :s WHERE id = 1", soci::use(last);
    sql << "COMMIT";
  }
  auto db = Database::Open({.url = "sqlite://" + path});
  ASSERT_TRUE(db.ok()) << db.status();
  auto version = SchemaVersion(**db, "core");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, static_cast<int>(CoreMigrations().size()));
  EXPECT_EQ(*HeadSeq(**db), kOld);
  ASSERT_THAT((*db)->Write("emit",
                           [](Tx& tx) {
                             tx.Emit({"item", "z", 1, "new", "z"});
                             return absl::OkStatus();
                           }),
              IsOk());
  auto rows = ReadChanges(**db, 0, 2 * kOld);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(kOld + 1));
  EXPECT_EQ((*rows)[0].seq, 1);
  EXPECT_EQ((*rows)[0].name, "n1");
  EXPECT_EQ((*rows)[0].payload, std::string(300, '\0'));
  EXPECT_EQ((*rows)[kOld - 1].seq, kOld);
  EXPECT_EQ((*rows)[kOld].seq, kOld + 1);
  EXPECT_EQ((*rows)[kOld].payload, "new");
  EXPECT_EQ(*HeadSeq(**db), kOld + 1);
  // The counter row is gone (nothing left to keep in step with the log), and
  // so are the free pages the old log's table and index left behind.
  int tables = -1, free_pages = -1;
  ASSERT_THAT((*db)->Read("schema",
                          [&](soci::session& sql) {
                            sql << "SELECT COUNT(*) FROM sqlite_schema WHERE "
                                   "name = 'change_counter'",
                                soci::into(tables);
                            sql << "PRAGMA freelist_count",
                                soci::into(free_pages);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(tables, 0);
  EXPECT_EQ(free_pages, 0);
  db->reset();
  testing::RemoveTree(dir);
}

// Writes run on one connection with a cache of its own, which Prewarm fills;
// a write by another process to the same file is still seen by the next one.
TEST(DatabaseOpenTest, SqliteWriterCacheIsPrewarmedAndNeverStale) {
  std::string dir = testing::MakeTempDir("writer-cache");
  const std::string url = "sqlite://" + dir + "/x.db";
  auto db = Database::Open(
      {.url = url, .sqlite_writer_cache_bytes = int64_t{64} << 20});
  ASSERT_TRUE(db.ok()) << db.status();
  auto other = Database::Open({.url = url});
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_THAT((*db)->Write("setup",
                           [](Tx& tx) {
                             tx.sql() << "CREATE TABLE t (id INTEGER PRIMARY "
                                         "KEY, k TEXT NOT NULL, v TEXT)";
                             tx.sql() << "CREATE INDEX t_k ON t (k)";
                             for (int i = 0; i < 5000; ++i) {
                               // Bound by reference: it must outlive the
                               // statement, which runs at the end of the line.
                               const std::string k = std::to_string(i);
                               tx.sql() << "INSERT INTO t (k, v) VALUES (:k, "
                                           "printf('%0200d', :i))",
                                   soci::use(k), soci::use(i);
                             }
                             return absl::OkStatus();
                           }),
              IsOk());
  auto warm = (*db)->Prewarm({{"t", ""}, {"t", "t_k"}});
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_GT(warm->bytes, 1 << 20);  // 5,000 rows of 200+ bytes, and their index
  EXPECT_GT(warm->longest_wait, absl::ZeroDuration());
  // Shutdown asks it to stop: it ends before the next structure.
  EXPECT_THAT((*db)->Prewarm({{"t", ""}}, [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT((*db)->Prewarm({{"t", "no_such_index"}}),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("prewarm t no_such_index")));

  // Both write a counter in turn, each reading what the other wrote.
  auto bump = [](Database& d) {
    return d.Write("bump", [](Tx& tx) {
      tx.sql() << "UPDATE t SET v = CAST(CAST(v AS INTEGER) + 1 AS TEXT) "
                  "WHERE id = 1";
      return absl::OkStatus();
    });
  };
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(bump(**db), IsOk());
    ASSERT_THAT(bump(**other), IsOk());
  }
  std::string v;
  ASSERT_THAT((*db)->Write("read",
                           [&](Tx& tx) {
                             tx.sql() << "SELECT v FROM t WHERE id = 1",
                                 soci::into(v);
                             return absl::OkStatus();
                           }),
              IsOk());
  EXPECT_EQ(v, "40");
  db->reset();
  other->reset();
  testing::RemoveTree(dir);
}

// Commits never copy the log into the database themselves: a background
// thread does, and afterwards nothing committed is left only in the log.
TEST(DatabaseOpenTest, SqliteCheckpointsInTheBackground) {
  std::string dir = testing::MakeTempDir("checkpoint");
  auto db =
      Database::Open({.url = "sqlite://" + dir + "/x.db",
                      .sqlite_checkpoint_interval = absl::Milliseconds(20)});
  ASSERT_TRUE(db.ok()) << db.status();
  int autocheckpoint = -1;
  ASSERT_THAT((*db)->Read("pragma",
                          [&](soci::session& sql) {
                            sql << "PRAGMA wal_autocheckpoint",
                                soci::into(autocheckpoint);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(autocheckpoint, 0);
  ASSERT_THAT((*db)->Write("create",
                           [](Tx& tx) {
                             tx.sql() << "CREATE TABLE t (v TEXT)";
                             return absl::OkStatus();
                           }),
              IsOk());
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT((*db)->Write("insert",
                             [&](Tx& tx) {
                               std::string v(4000, 'a' + i % 26);
                               tx.sql() << "INSERT INTO t (v) VALUES (:v)",
                                   soci::use(v);
                               return absl::OkStatus();
                             }),
                IsOk());
  }
  // The rows reach the database file only through a checkpoint.
  auto file_size = [&] {
    struct stat st {};
    return ::stat((dir + "/x.db").c_str(), &st) == 0 ? st.st_size : 0;
  };
  // A bounded wait, not a timing check: a checkpoint syncs the disk, and a
  // shared disk can stall for seconds.
  // The file grows while the checkpoint runs; the count moves once it has
  // returned, so both are waited for.
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up &&
         (file_size() < 200000 || (*db)->checkpoints() == 0))
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_GE(file_size(), 200000);
  EXPECT_GT((*db)->checkpoints(), 0);
  db->reset();
  testing::RemoveTree(dir);
}

// Writes that queue behind a commit are committed together, and each still
// succeeds or fails on its own: a failed one leaves no row, no change-log
// event and runs no hook; the others commit in queue order.
TEST(DatabaseGroupCommitTest, QueuedWritesCommitTogetherAndFailAlone) {
  std::string dir = testing::MakeTempDir("group-commit");
  prometheus::Registry registry;
  auto db = Database::Open(
      {.url = dir + "/g.db", .pool_size = 4, .registry = &registry});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_THAT(Migrate(**db, "test", TestMigrations()), IsOk());
  // Every write is timed; the series is there before the first one.
  auto writes_timed = [&registry]() -> int64_t {
    for (const auto& family : registry.Collect()) {
      if (family.name != "sightline_sql_write_seconds") continue;
      EXPECT_EQ(family.metric.size(), 1u);
      return static_cast<int64_t>(family.metric.at(0).histogram.sample_count);
    }
    return -1;
  };
  const int64_t timed_before = writes_timed();
  ASSERT_GE(timed_before, 0);

  absl::Notification started, release;
  std::thread first([&] {
    EXPECT_THAT((*db)->Write("items.first",
                             [&](Tx& tx) {
                               started.Notify();
                               release.WaitForNotification();
                               tx.sql() << "INSERT INTO items (id, n) "
                                           "VALUES ('a', 0)";
                               tx.Emit({"item", "a", 1, "", ""});
                               return absl::OkStatus();
                             }),
                IsOk());
  });
  started.WaitForNotification();

  // b3 fails in its body after writing; b4 collides with 'a' in SQL.
  const std::vector<std::string> ids = {"b1", "b2", "b3", "a", "b5"};
  std::vector<absl::Status> results(ids.size());
  std::vector<int> hooks(ids.size(), 0);
  std::vector<int64_t> seqs(ids.size(), -1);
  std::vector<std::thread> queued;
  for (size_t i = 0; i < ids.size(); ++i) {
    queued.emplace_back([&, i] {
      results[i] = (*db)->Write(
          "items.queued",
          [&](Tx& tx) {
            long long n = static_cast<long long>(i + 1);
            tx.sql() << "INSERT INTO items (id, n) VALUES (:id, :n)",
                soci::use(ids[i]), soci::use(n);
            tx.Emit({"item", ids[i], 1, "", ""});
            tx.AfterCommit([&hooks, i] { ++hooks[i]; });
            if (ids[i] == "b3") return absl::InvalidArgumentError("refused");
            return absl::OkStatus();
          },
          &seqs[i]);
    });
  }
  for (int i = 0; i < 1000 && (*db)->queued_writes() < ids.size(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ((*db)->queued_writes(), ids.size());
  release.Notify();
  first.join();
  for (auto& t : queued) t.join();

  EXPECT_THAT(results[0], IsOk());
  EXPECT_THAT(results[1], IsOk());
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(results[3], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(results[4], IsOk());
  EXPECT_EQ(hooks, (std::vector<int>{1, 1, 0, 0, 1}));

  std::vector<std::string> stored;
  ASSERT_THAT((*db)->Read("items.all",
                          [&](soci::session& sql) {
                            soci::rowset<std::string> rs =
                                (sql.prepare << "SELECT id FROM items "
                                                "ORDER BY id");
                            for (const auto& id : rs) stored.push_back(id);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(stored, (std::vector<std::string>{"a", "b1", "b2", "b5"}));
  // The change log has one event per committed write, without gaps, and each
  // write learned its own position.
  auto rows = ReadChanges(**db, 0, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);
  for (size_t i = 0; i < rows->size(); ++i)
    EXPECT_EQ((*rows)[i].seq, static_cast<int64_t>(i + 1));
  EXPECT_EQ((*rows)[0].name, "a");
  std::set<std::string> later = {(*rows)[1].name, (*rows)[2].name,
                                 (*rows)[3].name};
  EXPECT_EQ(later, (std::set<std::string>{"b1", "b2", "b5"}));
  for (size_t i : {0u, 1u, 4u}) EXPECT_EQ((*rows)[seqs[i] - 1].name, ids[i]);

  // One commit for the first write, one for the five queued behind it.
  bool seen = false;
  for (const auto& family : registry.Collect()) {
    if (family.name != "sightline_sql_commit_writes") continue;
    ASSERT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric[0].histogram.sample_count, 2u);
    EXPECT_EQ(family.metric[0].histogram.sample_sum, 6.0);
    seen = true;
  }
  EXPECT_TRUE(seen);
  // Six writes answered, the failed ones included.
  EXPECT_EQ(writes_timed(), timed_before + 6);
  db->reset();
  testing::RemoveTree(dir);
}

// Under steady writes and reads the write-ahead log never starts over by
// itself; the checkpointer makes it, so the log file stays bounded and no
// commit is lost.
TEST(DatabaseOpenTest, SqliteLogStaysBoundedUnderSteadyWrites) {
  std::string dir = testing::MakeTempDir("restart");
  auto db =
      Database::Open({.url = dir + "/x.db",
                      .sqlite_checkpoint_interval = absl::Milliseconds(10),
                      .sqlite_restart_frames = 64});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_THAT((*db)->Write("create",
                           [](Tx& tx) {
                             tx.sql() << "CREATE TABLE t (k INTEGER, v TEXT)";
                             return absl::OkStatus();
                           }),
              IsOk());
  constexpr int kWriters = 3, kEach = 400;
  std::atomic<bool> writing{true};
  std::thread reader([&] {
    while (writing.load()) {
      long long n = 0;
      EXPECT_THAT((*db)->Read("count",
                              [&](soci::session& sql) {
                                sql << "SELECT COUNT(*) FROM t", soci::into(n);
                                return absl::OkStatus();
                              }),
                  IsOk());
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_THAT((*db)->Write("insert",
                                 [&](Tx& tx) {
                                   long long k = w * kEach + i;
                                   std::string v(6000, 'a' + i % 26);
                                   tx.sql() << "INSERT INTO t (k, v) "
                                               "VALUES (:k, :v)",
                                       soci::use(k), soci::use(v);
                                   return absl::OkStatus();
                                 }),
                    IsOk());
      }
    });
  }
  for (auto& t : writers) t.join();
  writing = false;
  reader.join();
  long long rows = 0, distinct = 0;
  ASSERT_THAT((*db)->Read("count",
                          [&](soci::session& sql) {
                            sql << "SELECT COUNT(*), COUNT(DISTINCT k) FROM t",
                                soci::into(rows), soci::into(distinct);
                            return absl::OkStatus();
                          }),
              IsOk());
  EXPECT_EQ(rows, kWriters * kEach);
  EXPECT_EQ(distinct, kWriters * kEach);
  // 1,200 commits of two or more 4 KiB pages each: a log that never started
  // over would hold at least 9 MiB (2,400 frames of 4 KiB and their headers).
  // How early it starts over depends on when the checkpointer gets the
  // writers' turn, which a busy machine delays (7.9 MB seen once): bounded
  // is what is checked here, not how tightly.
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/x.db-wal").c_str(), &st), 0);
  EXPECT_LT(st.st_size, 9 << 20);
  db->reset();
  testing::RemoveTree(dir);
}

TEST(DatabaseOpenTest, UnreachablePostgresIsUnavailable) {
  int port = testing::FreePort();
  auto db = Database::Open(
      {.url = absl::StrCat("postgresql://postgres@127.0.0.1:", port, "/x")});
  EXPECT_THAT(db.status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(DatabaseOpenTest, BadUrlsNameTheFlag) {
  EXPECT_THAT(Database::Open({.url = ""}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("db")));
  EXPECT_THAT(Database::Open({.url = "mysql://x"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported scheme")));
  EXPECT_THAT(Database::Open({.url = "postgresql://h:99999/x"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
}

TEST(PostgresConnectStringTest, TranslatesUrls) {
  EXPECT_EQ(*PostgresConnectString(
                "postgresql://u:p%40ss@db.local:5433/app?sslmode=require"),
            "user='u' password='p@ss' host='db.local' port='5433' dbname='app' "
            "sslmode='require'");
  EXPECT_EQ(*PostgresConnectString("postgres://127.0.0.1/x"),
            "host='127.0.0.1' dbname='x'");
  EXPECT_EQ(*PostgresConnectString("postgresql://u:it's@h/d"),
            "user='u' password='it\\'s' host='h' dbname='d'");
  EXPECT_THAT(PostgresConnectString("postgresql://h/d?bad key=1").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenTest, RoundTripAndTamperEvidence) {
  TokenCodec codec("key");
  std::string t = codec.Encode("resume", "42");
  EXPECT_EQ(*codec.Decode("resume", t, "resume_token"), "42");
  EXPECT_THAT(
      codec.Decode("page", t, "page_token"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  std::string tampered = t;
  tampered[2] = tampered[2] == 'A' ? 'B' : 'A';
  EXPECT_THAT(codec.Decode("resume", tampered, "resume_token"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenCodec("other").Decode("resume", t, "resume_token"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(codec.Decode("resume", "!!!", "resume_token"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenTest, PageTokensAreBoundToFilters) {
  TokenCodec codec = TokenCodec::WithRandomKey();
  std::string t = EncodePageToken(codec, "ListPeople", "team=a", "cursor-1");
  EXPECT_EQ(*DecodePageToken(codec, "ListPeople", "team=a", t), "cursor-1");
  EXPECT_THAT(
      DecodePageToken(codec, "ListPeople", "team=b", t),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("other filters")));
  EXPECT_THAT(DecodePageToken(codec, "ListTeams", "team=a", t),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenTest, PageSizeRules) {
  EXPECT_EQ(*PageSize(0, 100, 1000), 100);
  EXPECT_EQ(*PageSize(5000, 100, 1000), 1000);
  EXPECT_EQ(*PageSize(7, 100, 1000), 7);
  EXPECT_THAT(
      PageSize(-1, 100, 1000).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

TEST(TokenTest, IdsAndEtags) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewId();
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ(id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789"),
              std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(Etag("people/a", 1), Etag("people/a", 1));
  EXPECT_NE(Etag("people/a", 1), Etag("people/a", 2));
  EXPECT_NE(Etag("people/a", 1), Etag("people/b", 1));
}

TEST(FingerprintTest, DependsOnContent) {
  grpc::health::v1::HealthCheckRequest a, b;
  a.set_service("x");
  b.set_service("y");
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(a));
  EXPECT_NE(RequestFingerprint(a), RequestFingerprint(b));
  EXPECT_THAT(ValidateRequestId("ok-1", "request_id"), IsOk());
  EXPECT_THAT(
      ValidateRequestId("has space", "request_id"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_id")));
}

}  // namespace
}  // namespace sightline::storage
