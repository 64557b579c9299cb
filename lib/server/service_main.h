#pragma once

// The start every service shares, so that its main.cc lists only its own
// parts: the configuration, the runtime, the people directory (for services
// other than people), the database migrated for the service's track, Redis
// caches, the change feed and the open Watch streams; then the server, and a
// stop of everything in reverse order.
//
// Kept out of sightline::server: the directory is a client of the people
// service and itself builds on sightline::server.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/impl/service_type.h"
#include "lib/cache/cache.h"
#include "lib/directory/directory.h"
#include "lib/org/directory_org.h"
#include "lib/server/change_stream.h"
#include "lib/server/client.h"
#include "lib/server/config.h"
#include "lib/server/runtime.h"
#include "lib/server/server.h"
#include "lib/storage/change_log.h"
#include "lib/storage/database.h"
#include "lib/storage/schema.h"

namespace sightline::server {

// The replica of the people directory a service reads the org from.
struct PeopleDirectoryOptions {
  std::string address = {};  // --people_address
  directory::DirectoryOptions directory = {};
  // Logged (with the address) when the first load takes longer than 5 s; it
  // says what the service does meanwhile.
  std::string not_ready_warning = {};
};

// What a service asks of the common start, known once its flags are parsed.
struct ServiceOptions {
  // The migrations of the service's track (named after the service).
  const std::vector<storage::Migration>* migrations = nullptr;
  // Unset: no directory (the people service is the directory).
  std::optional<PeopleDirectoryOptions> people = std::nullopt;
  // storage::DatabaseOptions::sqlite_writer_cache_bytes.
  int64_t sqlite_writer_cache_bytes = 0;
  // One cache::Cache per entry, each with its own Redis connection when
  // --redis is set (caching off otherwise).
  std::vector<cache::CacheOptions> caches = {};
  // How often the change feed looks for commits of other replicas.
  absl::Duration change_poll_interval = absl::Milliseconds(200);
};

class ServiceBase {
 public:
  // Reads the configuration, then asks `options` (which checks the service's
  // own flags: an error is a bad configuration), and builds the common parts.
  // On failure returns null, the error logged as ExitWithError logs it, and
  // `*exit_code` is what main returns.
  static std::unique_ptr<ServiceBase> Create(
      const ServiceDefaults& defaults, int argc, char** argv,
      absl::FunctionRef<absl::StatusOr<ServiceOptions>()> options,
      int* exit_code);

  ~ServiceBase();
  ServiceBase(const ServiceBase&) = delete;
  ServiceBase& operator=(const ServiceBase&) = delete;

  const ServerConfig& config() const { return config_; }
  Runtime* runtime() { return runtime_.get(); }
  telemetry::Telemetry& telemetry() { return runtime_->telemetry(); }
  prometheus::Registry& registry() { return telemetry().registry(); }
  storage::Database* db() { return db_.get(); }
  storage::ChangeFeed* feed() { return feed_.get(); }
  StreamSet* streams() { return &streams_; }
  // The i-th of ServiceOptions::caches.
  cache::Cache* cache(size_t i) { return caches_.at(i).get(); }
  // Null without ServiceOptions::people.
  ServiceToken* token() { return token_.get(); }
  directory::Directory* directory() { return directory_.get(); }
  org::DirectoryOrg* org() { return org_.get(); }

  // What a handler's Watch streams need; `feed_name` binds resume tokens.
  ChangeStreamDeps WatchDeps(std::string feed_name) {
    return {runtime(), db(), feed(), streams(), std::move(feed_name)};
  }

  // Serves `handler` until SIGTERM/SIGINT; shutdown ends open Watch streams
  // with UNAVAILABLE. Then runs `stops` in the order given (the service's
  // own background work, last started first) and stops the change feed and
  // the directory. With `warm_up`, health reports the service (not the
  // server as a whole) NOT_SERVING from the start until warm_up (run on a
  // thread of its own while calls are answered) has returned; `stopping`
  // turns true when shutdown begins, so that it can end early. Returns the
  // process exit code.
  using WarmUp = std::function<void(const std::atomic<bool>& stopping)>;
  int Serve(grpc::Service* handler, absl::string_view full_name,
            std::vector<std::function<void()>> stops = {},
            WarmUp warm_up = nullptr);

 private:
  ServiceBase() = default;
  // The parts, built in order; the first error is logged and its exit code
  // returned (0: all built).
  int Build(const ServiceDefaults& defaults, int argc, char** argv,
            absl::FunctionRef<absl::StatusOr<ServiceOptions>()> options);

  ServerConfig config_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<ServiceToken> token_;
  std::unique_ptr<directory::Directory> directory_;
  std::unique_ptr<org::DirectoryOrg> org_;
  std::unique_ptr<storage::Database> db_;
  std::vector<std::unique_ptr<cache::Cache>> caches_;
  std::unique_ptr<storage::ChangeFeed> feed_;
  StreamSet streams_;
};

}  // namespace sightline::server
