#pragma once

// The feedback service's repository on SQL (SQLite or PostgreSQL through
// lib/storage), and its schema.

#include <memory>
#include <vector>

#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "services/feedback/repository.h"

namespace sightline::feedback {

// The schema, track "feedback".
const std::vector<storage::Migration>& FeedbackMigrations();

std::unique_ptr<FeedbackRepository> NewSqlRepository(storage::Database* db);

}  // namespace sightline::feedback
