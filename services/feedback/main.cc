// sightline-feedback: feedback in every direction, requests, 360 reviews,
// recognition and 1:1s.

#include "absl/flags/flag.h"
#include "lib/server/periodic.h"
#include "lib/server/service_main.h"
#include "services/feedback/directory_org.h"
#include "services/feedback/feedback_handler.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/grpc_goal_check.h"
#include "services/feedback/metrics.h"
#include "services/feedback/repository.h"
#include "services/feedback/sql_repository.h"

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
  int code = 0;
  auto base = server::ServiceBase::Create(
      {"feedback", "127.0.0.1:50053", "127.0.0.1:9453", "var/feedback.db"},
      argc, argv,
      []() -> absl::StatusOr<server::ServiceOptions> {
        if (absl::GetFlag(FLAGS_anonymity_floor) <
            feedback::kMinAnonymityFloor) {
          return absl::InvalidArgumentError(
              "--anonymity_floor: must be at least 2");
        }
        return server::ServiceOptions{
            .migrations = &feedback::FeedbackMigrations(),
            .people =
                server::PeopleDirectoryOptions{
                    .address = absl::GetFlag(FLAGS_people_address),
                    .directory = {.call_timeout =
                                      absl::GetFlag(FLAGS_dependency_timeout)},
                    .not_ready_warning = "people directory not loaded yet; "
                                         "managers' reads wait for it"},
            .change_poll_interval = absl::GetFlag(FLAGS_change_poll_interval)};
      },
      &code);
  if (base == nullptr) return code;

  // The goals service, asked (with each caller's own credentials) whether
  // the caller may reference a goal.
  auto goals =
      server::MakeClientChannel(absl::GetFlag(FLAGS_goals_address),
                                base->config().peer_tls, &base->telemetry());
  if (!goals.ok())
    return server::ExitWithError("bad configuration", goals.status());
  absl::Duration timeout = absl::GetFlag(FLAGS_dependency_timeout);
  absl::Duration ttl = absl::GetFlag(FLAGS_dependency_cache_ttl);
  feedback::DirectoryOrg org(base->directory(), ttl);
  feedback::GrpcGoalCheck goal_check(*goals, ttl, timeout);

  auto repo = feedback::NewSqlRepository(base->db());
  feedback::FeedbackMetrics metrics(&base->registry());
  feedback::FeedbackOptions options;
  options.anonymity_floor = absl::GetFlag(FLAGS_anonymity_floor);
  options.on_created = [&metrics](int kind, int relationship) {
    metrics.Created(kind, relationship);
  };
  feedback::FeedbackService service(repo.get(), &org, &goal_check, options);
  if (auto st = service.Init(); !st.ok())
    return server::ExitWithError("cannot read the pseudonym key", st);

  feedback::FeedbackHandler handler(base->runtime(), &service, &org,
                                    base->WatchDeps("recognition"));

  server::Periodic refresher(absl::GetFlag(FLAGS_metrics_refresh), [&] {
    auto census = service.Census();
    if (census.ok()) metrics.Requests(census->first, census->second);
  });

  return base->Serve(&handler, "sightline.feedback.v1.FeedbackService",
                     {[&] { refresher.Stop(); }});
}
