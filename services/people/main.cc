// sightline-people: the org directory service.

#include "absl/flags/flag.h"
#include "lib/cache/cache.h"
#include "lib/server/change_stream.h"
#include "lib/server/server.h"
#include "lib/storage/change_log.h"
#include "lib/storage/schema.h"
#include "services/people/cached_repository.h"
#include "services/people/directory.h"
#include "services/people/people_handler.h"
#include "services/people/sql_repository.h"

ABSL_FLAG(double, mass_termination_share, 0.2,
          "A FULL sync may terminate at most this share of active people "
          "unless it sets "
          "allow_mass_termination.");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Minutes(10),
          "Lifetime of cached directory reads.");
ABSL_FLAG(
    absl::Duration, change_poll_interval, absl::Milliseconds(200),
    "How often Watch streams look for changes committed by other replicas.");
ABSL_FLAG(int, local_cache_entries, 100000,
          "People kept in process memory in front of Redis (0: none). Commits "
          "of other "
          "replicas are seen within --change_poll_interval.");

using namespace sightline;  // NOLINT: main wires parts from every namespace

int main(int argc, char** argv) {
  auto config = server::LoadConfig(
      {"people", "127.0.0.1:50051", "127.0.0.1:9451", "var/people.db"}, argc,
      argv);
  if (!config.ok())
    return server::ExitWithError("bad configuration", config.status());
  double share = absl::GetFlag(FLAGS_mass_termination_share);
  if (share < 0 || share > 1) {
    return server::ExitWithError(
        "bad configuration",
        absl::InvalidArgumentError(
            "--mass_termination_share: must be within 0..1"));
  }
  auto runtime = server::Runtime::Create(*config);
  if (!runtime.ok())
    return server::ExitWithError("bad configuration", runtime.status());
  auto& registry = (*runtime)->telemetry().registry();

  auto db = storage::Database::Open(
      {.url = config->db,
       .pool_size = config->db_pool_size,
       .sqlite_checkpoint_interval = config->sqlite_checkpoint_interval,
       .registry = &registry});
  if (!db.ok())
    return server::ExitWithError("cannot open the database", db.status());
  if (auto st = storage::Migrate(**db, "people", people::PeopleMigrations());
      !st.ok()) {
    return server::ExitWithError("cannot migrate the database", st);
  }

  std::unique_ptr<cache::RedisClient> entities_client, chains_client;
  if (!config->redis.empty()) {
    auto redis = cache::ParseRedisUrl(config->redis);
    if (!redis.ok())
      return server::ExitWithError("bad configuration", redis.status());
    entities_client = std::make_unique<cache::RedisClient>(*redis);
    chains_client = std::make_unique<cache::RedisClient>(*redis);
  }
  absl::Duration ttl = absl::GetFlag(FLAGS_cache_ttl);
  cache::CacheOptions entity_options;
  entity_options.ns = "people";
  entity_options.ttl = ttl;
  cache::CacheOptions chain_options = entity_options;
  chain_options.ns = "people-chains";
  cache::Cache entities(std::move(entities_client), entity_options, &registry);
  cache::Cache chains(std::move(chains_client), chain_options, &registry);

  people::SqlPeopleRepository sql_repo(db->get());
  people::CachedPeopleRepository repo(
      &sql_repo, &entities, &chains,
      static_cast<size_t>(absl::GetFlag(FLAGS_local_cache_entries)));
  repo.ExportMetrics(&registry);
  people::DirectoryOptions options;
  options.policy.mass_termination_share = share;
  people::Directory directory(&repo, options);

  storage::ChangeFeed feed(db->get(),
                           absl::GetFlag(FLAGS_change_poll_interval));
  feed.Start();
  // Any commit (ours, or another replica's found by polling) may have changed
  // people: what this process holds in memory is dropped.
  feed.Subscribe([&repo](int64_t) { repo.ClearLocal(); });
  server::StreamSet streams;
  people::PeopleHandler handler(
      runtime->get(), &directory,
      {runtime->get(), db->get(), &feed, &streams, "people"});

  server::Server srv(runtime->get());
  srv.AddService(&handler, "sightline.people.v1.PeopleService");
  srv.AddShutdownHook([&] {
    streams.CloseAll(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "server shutting down; resume with the last resume_token"));
  });
  if (auto st = srv.Start(); !st.ok())
    return server::ExitWithError("cannot start", st);
  int code = srv.Run();
  feed.Stop();
  return code;
}
