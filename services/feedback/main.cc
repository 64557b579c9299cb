// sightline-feedback: feedback in every direction, requests, 360 reviews,
// recognition and 1:1s.

#include "absl/flags/flag.h"
#include "lib/directory/directory.h"
#include "lib/server/change_stream.h"
#include "lib/server/client.h"
#include "lib/server/periodic.h"
#include "lib/server/server.h"
#include "lib/storage/change_log.h"
#include "lib/storage/schema.h"
#include "lib/telemetry/log.h"
#include "services/feedback/feedback_handler.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/metrics.h"
#include "services/feedback/org.h"
#include "services/feedback/repository.h"

ABSL_FLAG(std::string, people_address, "127.0.0.1:50051",
          "The people service (host:port).");
ABSL_FLAG(std::string, goals_address, "127.0.0.1:50052",
          "The goals service (host:port).");
ABSL_FLAG(int, anonymity_floor, 3,
          "Distinct authors a summary or stats with anonymous or upward "
          "feedback needs before it is shown (never below 2).");
ABSL_FLAG(absl::Duration, dependency_cache_ttl, absl::Seconds(30),
          "How long answers of the people and goals services are reused.");
ABSL_FLAG(absl::Duration, dependency_timeout, absl::Seconds(3),
          "Deadline of each call to the people and goals services.");
ABSL_FLAG(
    absl::Duration, change_poll_interval, absl::Milliseconds(200),
    "How often WatchRecognition streams look for commits of other replicas.");
ABSL_FLAG(absl::Duration, metrics_refresh, absl::Seconds(30),
          "How often the request gauges are recomputed.");

using namespace sightline;  // NOLINT: main wires parts from every namespace

int main(int argc, char** argv) {
  auto config = server::LoadConfig(
      {"feedback", "127.0.0.1:50053", "127.0.0.1:9453", "var/feedback.db"},
      argc, argv);
  if (!config.ok())
    return server::ExitWithError("bad configuration", config.status());
  if (absl::GetFlag(FLAGS_anonymity_floor) < feedback::kMinAnonymityFloor) {
    return server::ExitWithError(
        "bad configuration",
        absl::InvalidArgumentError("--anonymity_floor: must be at least 2"));
  }
  auto runtime = server::Runtime::Create(*config);
  if (!runtime.ok())
    return server::ExitWithError("bad configuration", runtime.status());
  auto& telemetry = (*runtime)->telemetry();
  auto& registry = telemetry.registry();

  auto token = server::ServiceTokenFor(*config);
  if (!token.ok())
    return server::ExitWithError("bad configuration", token.status());
  auto people = server::MakeClientChannel(absl::GetFlag(FLAGS_people_address),
                                          config->peer_tls, &telemetry);
  if (!people.ok())
    return server::ExitWithError("bad configuration", people.status());
  auto goals = server::MakeClientChannel(absl::GetFlag(FLAGS_goals_address),
                                         config->peer_tls, &telemetry);
  if (!goals.ok())
    return server::ExitWithError("bad configuration", goals.status());
  absl::Duration timeout = absl::GetFlag(FLAGS_dependency_timeout);
  absl::Duration ttl = absl::GetFlag(FLAGS_dependency_cache_ttl);
  directory::Directory directory(*people, token->get(),
                                 {.call_timeout = timeout});
  directory.Start();
  if (!directory.WaitReady(absl::Seconds(5))) {
    telemetry::LogWarn(
        "people directory not loaded yet; managers' reads wait for it",
        {{"people_address", absl::GetFlag(FLAGS_people_address)}});
  }
  feedback::DirectoryOrg org(&directory, ttl);
  feedback::GrpcGoalCheck goal_check(*goals, token->get(), ttl, timeout);

  auto db = storage::Database::Open(
      {.url = config->db,
       .pool_size = config->db_pool_size,
       .sqlite_checkpoint_interval = config->sqlite_checkpoint_interval,
       .registry = &registry});
  if (!db.ok())
    return server::ExitWithError("cannot open the database", db.status());
  if (auto st =
          storage::Migrate(**db, "feedback", feedback::FeedbackMigrations());
      !st.ok()) {
    return server::ExitWithError("cannot migrate the database", st);
  }
  auto repo = feedback::NewSqlRepository(db->get());

  feedback::FeedbackMetrics metrics(&registry);
  feedback::FeedbackOptions options;
  options.anonymity_floor = absl::GetFlag(FLAGS_anonymity_floor);
  options.on_created = [&metrics](int kind, int relationship) {
    metrics.Created(kind, relationship);
  };
  feedback::FeedbackService service(repo.get(), &org, &goal_check, options);
  if (auto st = service.Init(); !st.ok())
    return server::ExitWithError("cannot read the pseudonym key", st);

  storage::ChangeFeed feed(db->get(),
                           absl::GetFlag(FLAGS_change_poll_interval));
  feed.Start();
  server::StreamSet streams;
  feedback::FeedbackHandler handler(
      runtime->get(), &service, &org,
      {runtime->get(), db->get(), &feed, &streams, "recognition"});

  server::Periodic refresher(absl::GetFlag(FLAGS_metrics_refresh), [&] {
    auto census = service.Census();
    if (census.ok()) metrics.Requests(census->first, census->second);
  });

  server::Server srv(runtime->get());
  srv.AddService(&handler, "sightline.feedback.v1.FeedbackService");
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
  refresher.Stop();
  feed.Stop();
  directory.Stop();
  return code;
}
