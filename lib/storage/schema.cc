#include "lib/storage/schema.h"

#include <soci/soci.h>

#include "absl/strings/str_cat.h"

namespace sightline::storage {
namespace {

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
  };
  return *m;
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
