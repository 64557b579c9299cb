#pragma once

// In-process test kit for handler and service tests: a migrated SQLite
// database in a temp dir, a server runtime whose tokens a test signs, a gRPC
// service on a loopback port the kernel picks, and client contexts carrying a
// bearer token.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server.h"
#include "lib/auth/principal.h"
#include "lib/server/change_stream.h"
#include "lib/server/runtime.h"
#include "lib/storage/change_log.h"
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

// What a handler test of a service on SQLite stands on: a migrated database
// in a fresh temp dir, a runtime, a change feed and the stream set its Watch
// methods need, and the handler served on loopback.
class HandlerBed {
 public:
  HandlerBed() = default;
  HandlerBed(const HandlerBed&) = delete;
  HandlerBed& operator=(const HandlerBed&) = delete;
  ~HandlerBed() { Stop(); }

  // The database migrated as `service`, tokens signed with `key`.
  absl::Status Open(const std::string& service,
                    const std::vector<storage::Migration>& migrations,
                    const std::string& key);
  storage::Database* db() { return db_.get(); }
  server::Runtime* runtime() { return runtime_.get(); }
  server::ChangeStreamDeps WatchDeps(std::string feed_name) {
    return {runtime_.get(), db_.get(), feed_.get(), &streams_,
            std::move(feed_name)};
  }
  // Serves `handler`; a channel to it, or null when it cannot start.
  std::shared_ptr<grpc::Channel> Serve(grpc::Service* handler);
  // Ends open Watch streams, stops the server and the feed, removes the dir.
  void Stop();

 private:
  std::string dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<server::Runtime> runtime_;
  std::unique_ptr<storage::ChangeFeed> feed_;
  server::StreamSet streams_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace sightline::testing
