// sightline-goals: objectives and key results, alignment, check-ins, history.

#include <thread>

#include "absl/flags/flag.h"
#include "lib/server/periodic.h"
#include "lib/server/service_main.h"
#include "lib/storage/change_follower.h"
#include "services/goals/cached_repository.h"
#include "services/goals/goals_handler.h"
#include "services/goals/goals_service.h"
#include "services/goals/grpc_kpi_source.h"
#include "services/goals/kpi_follower.h"
#include "services/goals/metrics.h"
#include "services/goals/sql_repository.h"

ABSL_FLAG(std::string, people_address, "127.0.0.1:50051",
          "The people service (host:port).");
// Not --metrics_address: every server's flag of that name is its own
// Prometheus endpoint.
ABSL_FLAG(std::string, metrics_service_address, "127.0.0.1:50054",
          "The metrics service (host:port), whose KPIs key results follow. "
          "Empty: key results cannot be linked to KPIs.");
ABSL_FLAG(
    bool, approval_required, false,
    "Goals an employee sets for themselves wait for a manager's approval.");
ABSL_FLAG(double, at_risk_gap, 0.10,
          "Health is AT_RISK when progress trails expected progress by more "
          "than this.");
ABSL_FLAG(double, off_track_gap, 0.25,
          "Health is OFF_TRACK when progress trails expected progress by more "
          "than this.");
ABSL_FLAG(double, stretch_success, 0.7,
          "Score at which a STRETCH goal counts as achieved.");
ABSL_FLAG(int, due_cadence_days, 7,
          "Check-in cadence: a goal is due after this many days.");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Minutes(10),
          "Lifetime of cached goals in Redis.");
ABSL_FLAG(int, local_cache_entries, 100000,
          "Goals kept in process memory (0: none).");
ABSL_FLAG(
    absl::Duration, change_poll_interval, absl::Milliseconds(200),
    "How often Watch streams and caches look for commits of other replicas.");
ABSL_FLAG(int, sqlite_writer_cache_mib, 512,
          "SQLite: page cache of the connection that runs every write, in "
          "MiB (it grows as pages are read). The indexes a check-in writes "
          "into are read into it at start.");
ABSL_FLAG(absl::Duration, metrics_refresh, absl::Seconds(30),
          "How often the sightline_goals gauges are recomputed.");

using namespace sightline;  // NOLINT: main wires parts from every namespace

int main(int argc, char** argv) {
  int code = 0;
  auto base = server::ServiceBase::Create(
      {"goals", "127.0.0.1:50052", "127.0.0.1:9452", "var/goals.db"}, argc,
      argv,
      []() -> absl::StatusOr<server::ServiceOptions> {
        double at_risk = absl::GetFlag(FLAGS_at_risk_gap),
               off_track = absl::GetFlag(FLAGS_off_track_gap);
        if (at_risk < 0 || off_track < at_risk || off_track > 1) {
          return absl::InvalidArgumentError(
              "--at_risk_gap and --off_track_gap: need 0 <= at_risk <= "
              "off_track <= 1");
        }
        cache::CacheOptions goals_cache;
        goals_cache.ns = "goals";
        goals_cache.ttl = absl::GetFlag(FLAGS_cache_ttl);
        return server::ServiceOptions{
            .migrations = &goals::GoalsMigrations(),
            .people =
                server::PeopleDirectoryOptions{
                    .address = absl::GetFlag(FLAGS_people_address),
                    .not_ready_warning =
                        "people directory not loaded yet; reads "
                        "see PUBLIC goals until it is"},
            .sqlite_writer_cache_bytes =
                int64_t{absl::GetFlag(FLAGS_sqlite_writer_cache_mib)} << 20,
            .caches = {goals_cache},
            .change_poll_interval = absl::GetFlag(FLAGS_change_poll_interval)};
      },
      &code);
  if (base == nullptr) return code;
  org::DirectoryOrg& org = *base->org();

  goals::SqlGoalRepository sql_repo(base->db());
  if (auto st = sql_repo.IndexKpiLinks(); !st.ok())
    return server::ExitWithError("cannot index KPI links", st);

  // The metrics service, for key results that follow KPIs.
  std::unique_ptr<goals::GrpcKpiSource> kpis;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_service_address);
      !address.empty()) {
    auto metrics_channel = server::MakeClientChannel(
        address, base->config().peer_tls, &base->telemetry());
    if (!metrics_channel.ok())
      return server::ExitWithError("bad configuration",
                                   metrics_channel.status());
    kpis =
        std::make_unique<goals::GrpcKpiSource>(*metrics_channel, base->token());
  }

  goals::CachedGoalRepository repo(
      &sql_repo, base->cache(0),
      static_cast<size_t>(absl::GetFlag(FLAGS_local_cache_entries)));
  repo.ExportMetrics(&base->registry());

  goals::GoalsMetrics metrics(&base->registry());
  goals::GoalsOptions options;
  options.approval_required = absl::GetFlag(FLAGS_approval_required);
  options.health.at_risk_gap = absl::GetFlag(FLAGS_at_risk_gap);
  options.health.off_track_gap = absl::GetFlag(FLAGS_off_track_gap);
  options.health.stretch_success = absl::GetFlag(FLAGS_stretch_success);
  options.due_cadence_days = absl::GetFlag(FLAGS_due_cadence_days);
  options.on_check_in = [&metrics](const std::string& cycle) {
    metrics.CheckInCreated(cycle);
  };
  options.kpis = kpis.get();
  goals::GoalsService service(&repo, &org, options);
  std::unique_ptr<goals::KpiFollower> kpi_follower;
  if (kpis != nullptr) {
    kpi_follower =
        std::make_unique<goals::KpiFollower>(&service, &repo, kpis.get());
    kpi_follower->Start();
  }

  // Goals other replicas changed leave this process's caches too.
  storage::ChangeFollower follower(base->db(), base->feed(),
                                   [&repo](const auto& rows) {
                                     std::vector<std::string> ids;
                                     for (const auto& row : rows) {
                                       if (!row.scope.empty())
                                         ids.push_back(row.scope);
                                     }
                                     repo.Invalidate(ids);
                                   });
  follower.Start();

  goals::GoalsHandler handler(
      base->runtime(), &service,
      [&org](const auth::Principal& p, bool fresh) {
        return org.ResolveCaller(p, fresh);
      },
      base->WatchDeps("goals"));

  // Gauges recomputed in the background, never on a request's path.
  server::Periodic refresher(absl::GetFlag(FLAGS_metrics_refresh), [&] {
    auto census = service.TakeCensus();
    if (census.ok()) metrics.Publish(*census);
  });

  // A check-in inserts into indexes keyed by goal, at places all over them:
  // read into the writer's cache now, they cost no disk read later.
  // Reported NOT_SERVING until done (Serve's warm-up): a balancer or a
  // readiness probe sends no calls to a replica whose writes would wait for
  // the disk.
  // A failed warm-up leaves writes slower, not wrong: the service is then
  // ready all the same.
  auto prewarm = [db = base->db()](const std::atomic<bool>& stopping) {
    absl::Time start = absl::Now();
    auto warm = db->Prewarm(goals::GoalsWritePath(),
                            [&stopping] { return stopping.load(); });
    if (absl::IsCancelled(warm.status())) return;  // shutting down
    if (!warm.ok()) {
      telemetry::LogWarn("prewarm failed",
                         {{"error", warm.status().message()}});
      return;
    }
    telemetry::LogInfo(
        "writer cache prewarmed",
        {{"cache_mib", static_cast<double>(warm->bytes) / (1 << 20)},
         {"ms", absl::ToInt64Milliseconds(absl::Now() - start)},
         {"longest_write_wait_ms",
          absl::ToDoubleMilliseconds(warm->longest_wait)}});
  };

  return base->Serve(&handler, "sightline.goals.v1.GoalService",
                     {[&] { refresher.Stop(); },
                      [&] {
                        if (kpi_follower != nullptr) kpi_follower->Stop();
                      },
                      [&] { follower.Stop(); }},
                     prewarm);
}
