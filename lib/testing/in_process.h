#pragma once

// In-process test kit for handler and service tests: a migrated SQLite
// database in a temp dir, a server runtime whose tokens a test signs, a gRPC
// service on a loopback port the kernel picks, and client contexts carrying a
// bearer token.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server.h"
#include "lib/auth/principal.h"
#include "lib/server/runtime.h"
#include "lib/storage/database.h"
#include "lib/storage/schema.h"

namespace sightline::testing {

// dir/<name>.db, opened with a pool of 2 and migrated as `service`.
absl::StatusOr<std::unique_ptr<storage::Database>> OpenMigratedSqlite(
    const std::string& dir, const std::string& service,
    const std::vector<storage::Migration>& migrations);

// A runtime named `service` (2 workers) whose tokens are HS256 with `key`.
absl::StatusOr<std::unique_ptr<server::Runtime>> HandlerRuntime(
    const std::string& service, const std::string& key);

// `service` served on 127.0.0.1 at a port the kernel picks (in `*port`);
// nullptr when it cannot start.
std::unique_ptr<grpc::Server> ServeOnLoopback(grpc::Service* service,
                                              int* port);

// A context with a 20 s deadline and, unless `subject` is empty, a bearer
// token for it signed with `key`.
std::unique_ptr<grpc::ClientContext> ContextAs(const std::string& key,
                                               const std::string& subject,
                                               std::vector<auth::Role> roles = {
                                                   auth::Role::kEmployee});

}  // namespace sightline::testing
