// sightline-metrics: KPIs, their time series, targets and status.

#include <optional>

#include "absl/flags/flag.h"
#include "lib/server/periodic.h"
#include "lib/server/service_main.h"
#include "lib/storage/change_follower.h"
#include "services/metrics/grpc_scorecard_sources.h"
#include "services/metrics/kpi_gauges.h"
#include "services/metrics/metrics_handler.h"
#include "services/metrics/metrics_service.h"
#include "services/metrics/prometheus_client.h"
#include "services/metrics/prometheus_source.h"
#include "services/metrics/repository.h"
#include "services/metrics/sql_repository.h"

ABSL_FLAG(std::string, people_address, "127.0.0.1:50051",
          "The people service (host:port).");
ABSL_FLAG(std::string, goals_address, "127.0.0.1:50052",
          "The goals service (host:port), read for scorecards with the "
          "caller's credentials. Empty: scorecards say their goals part is "
          "missing.");
ABSL_FLAG(std::string, feedback_address, "127.0.0.1:50053",
          "The feedback service (host:port), read for scorecards with the "
          "caller's credentials. Empty: scorecards say their feedback part is "
          "missing.");
ABSL_FLAG(std::string, scorecard_weights,
          "goals=0.3,feedback=0.1,financial=0.15,customer=0.15,"
          "internal_process=0.15,learning_and_growth=0.15",
          "Weights of the scorecard's overall score, per part: goals, "
          "feedback and the four KPI perspectives (financial, customer, "
          "internal_process, learning_and_growth). Parts not listed weigh 0.");
ABSL_FLAG(absl::Duration, scorecard_timeout, absl::Seconds(5),
          "Deadline of each call to the goals and feedback services for a "
          "scorecard (the caller's own deadline when sooner).");
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
  int code = 0;
  std::optional<metrics::ScorecardWeights> weights;
  auto base = server::ServiceBase::Create(
      {"metrics", "127.0.0.1:50054", "127.0.0.1:9454", "var/metrics.db"}, argc,
      argv,
      [&weights]() -> absl::StatusOr<server::ServiceOptions> {
        if (absl::GetFlag(FLAGS_max_exported_kpis) < 0) {
          return absl::InvalidArgumentError(
              "--max_exported_kpis: must be >= 0");
        }
        auto w = metrics::ParseScorecardWeights(
            absl::GetFlag(FLAGS_scorecard_weights), "--scorecard_weights");
        if (!w.ok()) return w.status();
        weights = *w;
        if (absl::GetFlag(FLAGS_scorecard_timeout) <= absl::ZeroDuration()) {
          return absl::InvalidArgumentError("--scorecard_timeout: must be > 0");
        }
        std::string prometheus_url = absl::GetFlag(FLAGS_prometheus_url);
        if (!prometheus_url.empty()) {
          if (auto st = metrics::ValidatePrometheusUrl(prometheus_url);
              !st.ok())
            return st;
        }
        return server::ServiceOptions{
            .migrations = &metrics::MetricsMigrations(),
            .people =
                server::PeopleDirectoryOptions{
                    .address = absl::GetFlag(FLAGS_people_address),
                    .not_ready_warning =
                        "people directory not loaded yet; reads "
                        "see PUBLIC KPIs until it is"},
            .change_poll_interval = absl::GetFlag(FLAGS_change_poll_interval)};
      },
      &code);
  if (base == nullptr) return code;
  std::string prometheus_url = absl::GetFlag(FLAGS_prometheus_url);

  auto repo = metrics::NewSqlRepository(base->db());
  metrics::KpiGauges gauges(&base->registry());
  // The goals and feedback services, for scorecards.
  std::shared_ptr<grpc::Channel> goals_channel, feedback_channel;
  for (auto [flag, channel] :
       {std::pair{&FLAGS_goals_address, &goals_channel},
        std::pair{&FLAGS_feedback_address, &feedback_channel}}) {
    const std::string address = absl::GetFlag(*flag);
    if (address.empty()) continue;
    auto made = server::MakeClientChannel(address, base->config().peer_tls,
                                          &base->telemetry());
    if (!made.ok())
      return server::ExitWithError("bad configuration", made.status());
    *channel = *made;
  }
  metrics::GrpcScorecardSources scorecard_sources(
      goals_channel, feedback_channel, absl::GetFlag(FLAGS_scorecard_timeout));

  metrics::MetricsOptions options;
  options.scorecard_sources = &scorecard_sources;
  options.scorecard_weights = *weights;
  options.max_exported_kpis = absl::GetFlag(FLAGS_max_exported_kpis);
  options.prometheus_configured = !prometheus_url.empty();
  options.on_points_written = [&gauges](int64_t n) { gauges.PointsWritten(n); };
  metrics::MetricsService service(repo.get(), base->org(), options);

  // What other replicas wrote leaves this process's caches too.
  storage::ChangeFollower follower(base->db(), base->feed(),
                                   [&service](const auto& rows) {
                                     bool definitions = false;
                                     for (const auto& row : rows) {
                                       if (row.entity == metrics::kKpiEntity)
                                         definitions = true;
                                     }
                                     service.Invalidate(definitions);
                                   });
  follower.Start();

  metrics::MetricsHandler handler(base->runtime(), &service, base->org(),
                                  base->WatchDeps("kpis"));

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
    source = std::make_unique<metrics::PrometheusSource>(&service, repo.get(),
                                                         prometheus.get());
    poller = std::make_unique<server::Periodic>(
        absl::GetFlag(FLAGS_prometheus_poll_interval),
        [&source] { source->Tick(storage::NowMicros()); });
  }

  return base->Serve(&handler, "sightline.metrics.v1.MetricsService",
                     {[&] {
                        if (poller) poller->Stop();
                      },
                      [&] { refresher.Stop(); }, [&] { follower.Stop(); }});
}
