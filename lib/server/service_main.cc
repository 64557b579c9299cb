#include "lib/server/service_main.h"

#include <thread>
#include <utility>

#include "lib/cache/redis_client.h"
#include "lib/telemetry/log.h"
#include "prometheus/gauge.h"

namespace sightline::server {

std::unique_ptr<ServiceBase> ServiceBase::Create(
    const ServiceDefaults& defaults, int argc, char** argv,
    absl::FunctionRef<absl::StatusOr<ServiceOptions>()> options,
    int* exit_code) {
  std::unique_ptr<ServiceBase> base(new ServiceBase());
  *exit_code = base->Build(defaults, argc, argv, options);
  if (*exit_code != 0) return nullptr;
  return base;
}

ServiceBase::~ServiceBase() = default;

int ServiceBase::Build(
    const ServiceDefaults& defaults, int argc, char** argv,
    absl::FunctionRef<absl::StatusOr<ServiceOptions>()> options) {
  auto config = LoadConfig(defaults, argc, argv);
  if (!config.ok()) return ExitWithError("bad configuration", config.status());
  config_ = *std::move(config);
  // The service's own flags, parsed by now.
  auto opts = options();
  if (!opts.ok()) return ExitWithError("bad configuration", opts.status());
  auto runtime = Runtime::Create(config_);
  if (!runtime.ok())
    return ExitWithError("bad configuration", runtime.status());
  runtime_ = *std::move(runtime);

  // The org, from the people service.
  if (opts->people.has_value()) {
    const PeopleDirectoryOptions& people = *opts->people;
    auto token = ServiceTokenFor(config_);
    if (!token.ok()) return ExitWithError("bad configuration", token.status());
    token_ = *std::move(token);
    auto channel =
        MakeClientChannel(people.address, config_.peer_tls, &telemetry());
    if (!channel.ok())
      return ExitWithError("bad configuration", channel.status());
    directory_ = std::make_unique<directory::Directory>(
        *std::move(channel), token_.get(), people.directory);
    directory_->Start();
    if (!directory_->WaitReady(absl::Seconds(5))) {
      telemetry::LogWarn(people.not_ready_warning,
                         {{"people_address", people.address}});
    }
    org_ = std::make_unique<org::DirectoryOrg>(directory_.get());
  }

  auto db = storage::Database::Open(
      {.url = config_.db,
       .pool_size = config_.db_pool_size,
       .sqlite_checkpoint_interval = config_.sqlite_checkpoint_interval,
       .sqlite_writer_cache_bytes = opts->sqlite_writer_cache_bytes,
       .registry = &registry()});
  if (!db.ok()) return ExitWithError("cannot open the database", db.status());
  db_ = *std::move(db);
  if (opts->migrations != nullptr) {
    if (auto st = storage::Migrate(*db_, defaults.service, *opts->migrations);
        !st.ok()) {
      return ExitWithError("cannot migrate the database", st);
    }
  }

  if (!opts->caches.empty()) {
    std::optional<cache::RedisConfig> redis;
    if (!config_.redis.empty()) {
      auto parsed = cache::ParseRedisUrl(config_.redis);
      if (!parsed.ok())
        return ExitWithError("bad configuration", parsed.status());
      redis = *std::move(parsed);
    }
    for (const cache::CacheOptions& cache_options : opts->caches) {
      std::unique_ptr<cache::RedisClient> client;
      if (redis.has_value())
        client = std::make_unique<cache::RedisClient>(*redis);
      caches_.push_back(std::make_unique<cache::Cache>(
          std::move(client), cache_options, &registry()));
    }
  }

  feed_ = std::make_unique<storage::ChangeFeed>(db_.get(),
                                                opts->change_poll_interval);
  feed_->Start();
  // The newest change this process has seen committed: against what Watch
  // streams send, it tells streams that stopped from a quiet log.
  prometheus::Gauge& head =
      prometheus::BuildGauge()
          .Name("sightline_change_feed_head")
          .Help(
              "Position of the newest committed change in this service's "
              "change log, as this process has seen it.")
          .Register(registry())
          .Add({});
  head.Set(static_cast<double>(feed_->head()));
  feed_->Subscribe(
      [&head](int64_t seq) { head.Set(static_cast<double>(seq)); });
  return 0;
}

int ServiceBase::Serve(grpc::Service* handler, absl::string_view full_name,
                       std::vector<std::function<void()>> stops,
                       WarmUp warm_up) {
  Server srv(runtime());
  srv.AddService(handler, full_name);
  if (warm_up) srv.HoldNotServing();
  srv.AddShutdownHook([this] {
    streams_.CloseAll(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "server shutting down; resume with the last resume_token"));
  });
  int code = 0;
  std::thread warming;
  std::atomic<bool> stopping{false};
  if (auto st = srv.Start(); !st.ok()) {
    code = ExitWithError("cannot start", st);
  } else {
    if (warm_up) {
      warming = std::thread([&srv, &warm_up, &stopping] {
        absl::Time start = absl::Now();
        warm_up(stopping);
        if (srv.MarkServing()) {
          telemetry::LogInfo(
              "ready",
              {{"warm_up_ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
        }
      });
    }
    code = srv.Run();
  }
  stopping = true;
  if (warming.joinable()) warming.join();
  for (auto& stop : stops) stop();
  feed_->Stop();
  if (directory_ != nullptr) directory_->Stop();
  return code;
}

}  // namespace sightline::server
