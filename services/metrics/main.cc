// sightline-metrics: KPIs, their time series, targets and status.

#include "absl/flags/flag.h"
#include "lib/directory/directory.h"
#include "lib/org/directory_org.h"
#include "lib/server/change_stream.h"
#include "lib/server/client.h"
#include "lib/server/periodic.h"
#include "lib/server/server.h"
#include "lib/storage/change_follower.h"
#include "lib/storage/change_log.h"
#include "lib/storage/schema.h"
#include "lib/telemetry/log.h"
#include "services/metrics/kpi_gauges.h"
#include "services/metrics/metrics_handler.h"
#include "services/metrics/metrics_service.h"
#include "services/metrics/prometheus_client.h"
#include "services/metrics/prometheus_source.h"
#include "services/metrics/repository.h"

ABSL_FLAG(std::string, people_address, "127.0.0.1:50051",
          "The people service (host:port).");
ABSL_FLAG(int, max_exported_kpis, 500,
          "KPIs that may be flagged for export on /metrics, at most.");
ABSL_FLAG(absl::Duration, change_poll_interval, absl::Milliseconds(200),
          "How often Watch streams and caches look for commits of other "
          "replicas.");
ABSL_FLAG(std::string, prometheus_url, "",
          "Prometheus to read KPIs with a PromQL query from "
          "(http://host:port); empty: such KPIs are refused.");
ABSL_FLAG(absl::Duration, prometheus_timeout, absl::Seconds(10),
          "Deadline of each Prometheus query.");
ABSL_FLAG(absl::Duration, prometheus_poll_interval, absl::Seconds(30),
          "How often Prometheus-sourced KPIs are looked at; each is "
          "evaluated once per cadence, and again at each look while its "
          "query fails.");
ABSL_FLAG(absl::Duration, metrics_refresh, absl::Seconds(15),
          "How often the sightline_kpi_* gauges are recomputed.");

using namespace sightline;  // NOLINT: main wires parts from every namespace

int main(int argc, char** argv) {
  auto config = server::LoadConfig(
      {"metrics", "127.0.0.1:50054", "127.0.0.1:9454", "var/metrics.db"}, argc,
      argv);
  if (!config.ok())
    return server::ExitWithError("bad configuration", config.status());
  if (absl::GetFlag(FLAGS_max_exported_kpis) < 0) {
    return server::ExitWithError(
        "bad configuration",
        absl::InvalidArgumentError("--max_exported_kpis: must be >= 0"));
  }
  std::string prometheus_url = absl::GetFlag(FLAGS_prometheus_url);
  if (!prometheus_url.empty()) {
    if (auto st = metrics::ValidatePrometheusUrl(prometheus_url); !st.ok())
      return server::ExitWithError("bad configuration", st);
  }
  auto runtime = server::Runtime::Create(*config);
  if (!runtime.ok())
    return server::ExitWithError("bad configuration", runtime.status());
  auto& telemetry = (*runtime)->telemetry();
  auto& registry = telemetry.registry();

  auto token = server::ServiceTokenFor(*config);
  if (!token.ok())
    return server::ExitWithError("bad configuration", token.status());
  auto channel = server::MakeClientChannel(absl::GetFlag(FLAGS_people_address),
                                           config->peer_tls, &telemetry);
  if (!channel.ok())
    return server::ExitWithError("bad configuration", channel.status());
  directory::Directory directory(*channel, token->get());
  directory.Start();
  if (!directory.WaitReady(absl::Seconds(5))) {
    telemetry::LogWarn(
        "people directory not loaded yet; reads see PUBLIC KPIs until it is",
        {{"people_address", absl::GetFlag(FLAGS_people_address)}});
  }
  org::DirectoryOrg org(&directory);

  auto db = storage::Database::Open(
      {.url = config->db,
       .pool_size = config->db_pool_size,
       .sqlite_checkpoint_interval = config->sqlite_checkpoint_interval,
       .registry = &registry});
  if (!db.ok())
    return server::ExitWithError("cannot open the database", db.status());
  if (auto st =
          storage::Migrate(**db, "metrics", metrics::MetricsMigrations());
      !st.ok()) {
    return server::ExitWithError("cannot migrate the database", st);
  }
  auto repo = metrics::NewSqlRepository(db->get());

  metrics::KpiGauges gauges(&registry);
  metrics::MetricsOptions options;
  options.max_exported_kpis = absl::GetFlag(FLAGS_max_exported_kpis);
  options.prometheus_configured = !prometheus_url.empty();
  options.on_points_written = [&gauges](int64_t n) { gauges.PointsWritten(n); };
  metrics::MetricsService service(repo.get(), &org, options);

  storage::ChangeFeed feed(db->get(),
                           absl::GetFlag(FLAGS_change_poll_interval));
  feed.Start();
  // What other replicas wrote leaves this process's caches too.
  storage::ChangeFollower follower(
      db->get(), &feed, [&service](const auto& rows) {
        bool definitions = false;
        for (const auto& row : rows) {
          if (row.entity == metrics::kKpiEntity) definitions = true;
        }
        service.Invalidate(definitions);
      });
  follower.Start();

  server::StreamSet streams;
  metrics::MetricsHandler handler(runtime->get(), &service, &org,
                                  {runtime->get(), db->get(), &feed, &streams,
                                   "kpis"});

  server::Periodic refresher(absl::GetFlag(FLAGS_metrics_refresh), [&] {
    gauges.Refresh(&service, repo.get(), storage::NowMicros());
  });

  // Prometheus-sourced KPIs, polled in the background.
  std::unique_ptr<metrics::PrometheusClient> prometheus;
  std::unique_ptr<metrics::PrometheusSource> source;
  std::unique_ptr<server::Periodic> poller;
  if (!prometheus_url.empty()) {
    metrics::PrometheusOptions prom_options;
    prom_options.base_url = prometheus_url;
    prom_options.timeout = absl::GetFlag(FLAGS_prometheus_timeout);
    prometheus = std::make_unique<metrics::PrometheusClient>(prom_options);
    source = std::make_unique<metrics::PrometheusSource>(
        &service, repo.get(), prometheus.get());
    poller = std::make_unique<server::Periodic>(
        absl::GetFlag(FLAGS_prometheus_poll_interval),
        [&source] { source->Tick(storage::NowMicros()); });
  }

  server::Server srv(runtime->get());
  srv.AddService(&handler, "sightline.metrics.v1.MetricsService");
  srv.AddShutdownHook([&] {
    streams.CloseAll(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "server shutting down; resume with the last resume_token"));
  });
  int code = 0;
  if (auto st = srv.Start(); !st.ok()) {
    code = server::ExitWithError("cannot start", st);
  } else {
    code = srv.Run();
  }
  if (poller) poller->Stop();
  refresher.Stop();
  follower.Stop();
  feed.Stop();
  directory.Stop();
  return code;
}
