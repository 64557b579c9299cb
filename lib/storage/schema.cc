#include "lib/storage/schema.h"

#include <soci/soci.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/telemetry/log.h"

namespace sightline::storage {

const std::vector<Migration>& CoreMigrations() {
  static const auto* m = new std::vector<Migration>{
      {1, "change log and idempotency records",
       R"sql(
CREATE TABLE change_counter (
  id INTEGER PRIMARY KEY,
  seq BIGINT NOT NULL
);
INSERT INTO change_counter (id, seq) VALUES (1, 0);
CREATE TABLE change_log (
  seq BIGINT PRIMARY KEY,
  commit_time BIGINT NOT NULL,
  entity TEXT NOT NULL,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  payload TEXT NOT NULL,
  scope TEXT NOT NULL
);
CREATE INDEX change_log_time ON change_log (commit_time);
CREATE TABLE idempotency (
  scope TEXT NOT NULL,
  request_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  response TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  PRIMARY KEY (scope, request_id)
);
CREATE INDEX idempotency_time ON idempotency (create_time);
)sql",
       ""},
      // SQLite: the sequence number becomes the table's own key (a column
      // declared BIGINT PRIMARY KEY is not one: it had a second b-tree), and
      // the next number is the last one's successor, read under the write
      // lock every SQLite writer holds, so the counter row (one more page
      // written by every commit) goes. The counter always equalled the last
      // number in the log: both move in one transaction, and pruning keeps
      // the newest entry. PostgreSQL keeps its counter row.
      {2, "SQLite: change log keyed by its sequence number",
       R"sql(
CREATE TABLE change_log_keyed (
  seq INTEGER PRIMARY KEY,
  commit_time BIGINT NOT NULL,
  entity TEXT NOT NULL,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  payload TEXT NOT NULL,
  scope TEXT NOT NULL
);
INSERT INTO change_log_keyed (seq, commit_time, entity, name, kind, payload, scope)
  SELECT seq, commit_time, entity, name, kind, payload, scope FROM change_log;
DROP TABLE change_log;
ALTER TABLE change_log_keyed RENAME TO change_log;
CREATE INDEX change_log_time ON change_log (commit_time);
DROP TABLE change_counter;
)sql",
       "SELECT 1"},
      // PostgreSQL: no counter row. A change's position is derived from the
      // id of the transaction that wrote it (see docs/changelog-postgres.md):
      // seq = seq_base + (xid - xid_base) * 2^20 + index within the
      // transaction. The numbers carry on above the counter's last value;
      // resume points at or below pruned_through lost changes to pruning.
      // SQLite keeps its single-writer numbering.
      {3, "PostgreSQL: change log positions from transaction ids", "SELECT 1",
       R"sql(
CREATE TABLE change_log_position (
  id INTEGER PRIMARY KEY,
  seq_base BIGINT NOT NULL,
  xid_base BIGINT NOT NULL,
  pruned_through BIGINT NOT NULL
);
INSERT INTO change_log_position (id, seq_base, xid_base, pruned_through)
  SELECT 1, GREATEST(c.seq, COALESCE((SELECT MAX(seq) FROM change_log), 0)) + 1,
         pg_current_xact_id()::text::bigint,
         COALESCE((SELECT MIN(seq) FROM change_log) - 1, c.seq)
  FROM change_counter c WHERE c.id = 1;
DROP TABLE change_counter;
)sql"},
  };
  return *m;
}

namespace {

// A migration that rebuilds a table leaves the old one's pages free, all over
// the file; later writes would take them one at a time from wherever they
// lie (the benchmark's goals database, upgraded in place, had 75,697 free
// pages of 428,835 and check-ins that stalled for 200 ms). Past an eighth of
// the file the database is rewritten compactly, once, at start. A failure
// leaves it as it is: correct, only fragmented.
void CompactIfMostlyFree(soci::session& sql) {
  long long free_pages = 0, pages = 0;
  try {
    sql << "PRAGMA freelist_count", soci::into(free_pages);
    sql << "PRAGMA page_count", soci::into(pages);
    if (free_pages * 8 <= pages) return;
    const absl::Time start = absl::Now();
    sql << "VACUUM";
    telemetry::LogInfo("database compacted after migration",
                       {{"free_pages", static_cast<int64_t>(free_pages)},
                        {"pages", static_cast<int64_t>(pages)},
                        {"ms", static_cast<int64_t>(absl::ToInt64Milliseconds(
                                   absl::Now() - start))}});
  } catch (const soci::soci_error& e) {
    telemetry::LogWarn("database not compacted after migration",
                       {{"error", std::string(e.what())}});
  }
}

}  // namespace

absl::Status RunMigrations(soci::session& sql, Dialect dialect,
                           absl::string_view track,
                           const std::vector<Migration>& migrations) {
  sql << "CREATE TABLE IF NOT EXISTS schema_migrations ("
         " track TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
         " applied_time BIGINT NOT NULL, PRIMARY KEY (track, version))";
  int latest = 0;
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat("migrations of ", track,
                                              " must be numbered 1, 2, 3..."));
    }
    latest = migrations[i].version;
  }
  const std::string track_s(track);
  int applied = 0;
  sql << (dialect == Dialect::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  try {
    if (dialect == Dialect::kPostgres) {
      sql << "SELECT pg_advisory_xact_lock(hashtext(:t))", soci::use(track_s);
    }
    int current = 0;
    soci::indicator ind = soci::i_ok;
    sql << "SELECT MAX(version) FROM schema_migrations WHERE track = :t",
        soci::use(track_s), soci::into(current, ind);
    if (ind == soci::i_null) current = 0;
    if (current > latest) {
      sql << "ROLLBACK";
      return absl::FailedPreconditionError(
          absl::StrCat("db: schema of ", track, " is at version ", current,
                       ", newer than this binary knows (", latest, ")"));
    }
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      ++applied;
      const std::string& text =
          dialect == Dialect::kPostgres && !m.postgres.empty() ? m.postgres
                                                               : m.sqlite;
      auto st = Database::Exec(sql, text);
      if (!st.ok()) {
        sql << "ROLLBACK";
        return st;
      }
      long long now = NowMicros();
      sql << "INSERT INTO schema_migrations (track, version, name, "
             "applied_time) "
             "VALUES (:t, :v, :n, :a)",
          soci::use(track_s), soci::use(m.version), soci::use(m.name),
          soci::use(now);
    }
    sql << "COMMIT";
  } catch (...) {
    try {
      sql << "ROLLBACK";
    } catch (...) {
    }
    throw;
  }
  if (dialect == Dialect::kSqlite && applied > 0) CompactIfMostlyFree(sql);
  return absl::OkStatus();
}

absl::Status EnsureCoreSchema(soci::session& sql, Dialect dialect) {
  return RunMigrations(sql, dialect, "core", CoreMigrations());
}

absl::Status Migrate(Database& db, absl::string_view track,
                     const std::vector<Migration>& migrations) {
  return db.Read("migrate", [&](soci::session& sql) {
    return RunMigrations(sql, db.dialect(), track, migrations);
  });
}

absl::StatusOr<int> SchemaVersion(Database& db, absl::string_view track) {
  int version = 0;
  auto st = db.Read("schema_version", [&](soci::session& sql) {
    soci::indicator ind = soci::i_ok;
    const std::string track_s(
        track);  // bound by reference: must outlive the statement
    sql << "SELECT MAX(version) FROM schema_migrations WHERE track = :t",
        soci::use(track_s), soci::into(version, ind);
    if (ind == soci::i_null) version = 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return version;
}

}  // namespace sightline::storage
