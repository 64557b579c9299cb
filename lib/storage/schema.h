#pragma once

// Versioned migrations. Each service owns a track ("people", "goals"...) of
// migrations numbered from 1; the storage layer's own tables (change log,
// idempotency records) are the "core" track. All pending migrations of a track
// run in one transaction at start; on PostgreSQL an advisory lock keeps two
// replicas from migrating at once. A database newer than the binary is refused.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lib/storage/database.h"

namespace sightline::storage {

struct Migration {
  int version = 0;
  std::string name;
  // Statements separated by ";" at the end of a line. When `postgres` is empty,
  // `sqlite` serves both.
  std::string sqlite;
  std::string postgres;
};

absl::Status RunMigrations(soci::session& sql, Dialect dialect,
                           absl::string_view track,
                           const std::vector<Migration>& migrations);

// The core track's migrations (change log, idempotency records).
const std::vector<Migration>& CoreMigrations();

// The core track; run by Database::Open.
absl::Status EnsureCoreSchema(soci::session& sql, Dialect dialect);

// Runs a service's migrations on a pooled session.
absl::Status Migrate(Database& db, absl::string_view track,
                     const std::vector<Migration>& migrations);

// The highest applied version of a track (0 if none).
absl::StatusOr<int> SchemaVersion(Database& db, absl::string_view track);

}  // namespace sightline::storage
