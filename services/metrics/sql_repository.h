#pragma once

// The metrics service's repository on SQL (SQLite or PostgreSQL through
// lib/storage), and its schema.

#include <memory>
#include <vector>

#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "services/metrics/repository.h"

namespace sightline::metrics {

// The schema, track "metrics".
const std::vector<storage::Migration>& MetricsMigrations();

std::unique_ptr<KpiRepository> NewSqlRepository(storage::Database* db);

}  // namespace sightline::metrics
