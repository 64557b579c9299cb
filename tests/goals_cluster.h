#pragma once

// A real goals service for cross-process tests: a PeopleCluster (Redis, the
// database, the people binary) with a small org seeded through SyncPeople, and
// the sightline-goals binary beside it on the same Redis, with its own
// database (a SQLite file, or a second database on the same PostgreSQL
// cluster), the same JWT secret, and --people_address pointing at the people
// service. Everything is started by the test and stopped by pid.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/support/sync_stream.h"
#include "lib/auth/principal.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"
#include "tests/people_cluster.h"

namespace sightline::testing {

namespace gv1 = ::sightline::goals::v1;

// The org every goals test starts from; people and teams are named by their
// HRIS keys (external ids), which are also the local part of their emails.
struct OrgPersonSpec {
  std::string ext;
  std::string manager;            // ext of the manager; empty at the top
  std::string team;               // ext of the team
  std::vector<auth::Role> roles;  // roles of the tokens minted for them
};
struct OrgTeamSpec {
  std::string ext;
  std::string parent;
  std::string lead;
};
struct OrgSpec {
  std::vector<OrgTeamSpec> teams;
  std::vector<OrgPersonSpec> people;
};

// exec (lead ceo) <- eng (lead mgr-eng) <- platform; exec <- sales (lead
// mgr-sales).
//   ceo (exec)
//   +- hr (exec, hr_admin)
//   +- mgr-eng (eng)
//   |  +- ic-eng-1, ic-eng-2 (eng)
//   |  +- ic-plat (platform)
//   +- mgr-sales (sales)
//      +- ic-sales-1, ic-sales-2 (sales)
OrgSpec DefaultOrg();

// Syncs `org` into the people service (SyncPeople, FULL) and reads back the
// `people/{id}` and `teams/{id}` names of its people and teams by HRIS key.
absl::Status SeedOrg(PeopleCluster& people, const OrgSpec& org,
                     std::map<std::string, std::string>* person_names,
                     std::map<std::string, std::string>* team_names);

class GoalsCluster {
 public:
  // Starts everything, seeds `org` and waits until the goals service's
  // replica of the directory holds it. `goals_args` go to the goals binary.
  // `before_goals`, when set, runs once the people service is up and seeded
  // and before the goals binary starts (to start a service goals depends
  // on); the arguments it returns go to the goals binary too.
  using BeforeGoals =
      std::function<absl::StatusOr<std::vector<std::string>>(GoalsCluster&)>;
  static absl::StatusOr<std::unique_ptr<GoalsCluster>> Start(
      Db db, std::vector<std::string> goals_args = {},
      OrgSpec org = DefaultOrg(), BeforeGoals before_goals = nullptr);
  ~GoalsCluster();

  PeopleCluster& people() { return *people_; }
  ServiceProcess& service() { return *goals_; }
  gv1::GoalService::Stub* stub() const { return stub_.get(); }
  // Another goals process with the same flags (the same database and Redis),
  // started once the first is up; returns when its directory has loaded.
  // The caller stops it (by its pid, ServiceProcess::Stop) before the
  // cluster goes.
  absl::StatusOr<std::unique_ptr<ServiceProcess>> StartReplica(
      const std::string& name);
  std::unique_ptr<gv1::GoalService::Stub> NewStub() const;
  const std::string& dir() const { return people_->dir(); }

  // `people/{id}` and `teams/{id}` of the seeded org, by HRIS key.
  const std::string& Person(const std::string& ext) const;
  const std::string& Team(const std::string& ext) const;
  // A token for a person of the org (subject: their email; roles as seeded).
  std::string Token(const std::string& ext) const;
  // A token for a service principal.
  std::string ServiceToken() const;
  const TestTokens& tokens() const { return people_->tokens(); }

  // A unary GoalService call with `token` and a deadline.
  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (gv1::GoalService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const std::string& token, const Req& req,
                    Resp* resp) const {
    grpc::ClientContext ctx;
    Authorize(&ctx, token, absl::Seconds(20));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  // An ACTIVE cycle from today (UTC) for 300 days, created by hr.
  absl::StatusOr<gv1::Cycle> CreateCycle(const std::string& display_name);

  grpc::Status CreateGoal(const std::string& as, const gv1::Goal& goal,
                          const std::vector<gv1::KeyResult>& key_results,
                          gv1::Goal* out, const std::string& request_id = "");
  grpc::Status GetGoal(const std::string& as, const std::string& name,
                       gv1::Goal* out);
  // The goal's key results, in the order they were created.
  absl::StatusOr<std::vector<gv1::KeyResult>> KeyResults(
      const std::string& as, const std::string& goal);
  // A check-in moving one key result to `value`.
  grpc::Status CheckIn(const std::string& as, const std::string& goal,
                       const std::string& key_result, double value,
                       gv1::CheckIn* out, const std::string& request_id = "");
  // Every page of ListGoals with `request` as the first.
  grpc::Status ListAllGoals(const std::string& as,
                            gv1::ListGoalsRequest request,
                            std::vector<gv1::Goal>* out);
  // All chunks of an alignment tree, flattened.
  grpc::Status Tree(const std::string& as,
                    const gv1::GetAlignmentTreeRequest& request,
                    std::vector<gv1::AlignmentNode>* nodes);

 private:
  GoalsCluster() = default;
  absl::Status Seed(const OrgSpec& org);
  absl::Status WaitForOrg(const OrgSpec& org, absl::Duration timeout);

  std::unique_ptr<PeopleCluster> people_;
  std::unique_ptr<ServiceProcess> goals_;
  std::unique_ptr<gv1::GoalService::Stub> stub_;
  std::vector<std::string> goals_args_;
  std::map<std::string, std::string> person_names_, team_names_;
  std::map<std::string, std::vector<auth::Role>> roles_;
};

// For test fixtures: a started cluster with one cycle, shared by the tests.
class ClusterFixture {
 protected:
  // Starts the cluster and creates the cycle `cycle_name`; a failure fails the
  // test (wrap the call in ASSERT_NO_FATAL_FAILURE).
  void StartCluster(Db db, const std::string& cycle_name,
                    std::vector<std::string> goals_args = {});

  std::unique_ptr<GoalsCluster> cluster_;
  std::string cycle_;  // "cycles/..."
};

// A goal to create: PUBLIC, the cycle's window, weight 1.
gv1::Goal GoalMsg(const std::string& title, const std::string& owner,
                  gv1::Level level, const std::string& cycle,
                  const std::string& parent = "",
                  gv1::Goal::Visibility visibility = gv1::Goal::PUBLIC);
// A NUMBER key result that increases from `baseline` to `target`.
gv1::KeyResult NumberKr(const std::string& title, double baseline,
                        double target);

// A WatchGoals stream with its own deadline, so that a missing event fails
// the read instead of hanging the test.
class GoalWatch {
 public:
  GoalWatch(gv1::GoalService::Stub* stub, const std::string& token,
            const std::string& resume_token = "",
            absl::Duration deadline = absl::Seconds(60));
  // Reads `n` events; fewer if the stream ends or its deadline passes.
  std::vector<gv1::WatchGoalsResponse> Read(int n);
  // Reads events up to and including the first that `done` accepts (at most
  // `max`); `found` tells whether it came.
  template <typename Pred>
  std::vector<gv1::WatchGoalsResponse> ReadUntil(Pred done, int max,
                                                 bool* found) {
    std::vector<gv1::WatchGoalsResponse> out;
    *found = false;
    for (int i = 0; i < max; ++i) {
      gv1::WatchGoalsResponse r;
      if (!reader_->Read(&r)) break;
      out.push_back(r);
      if (done(r)) {
        *found = true;
        break;
      }
    }
    return out;
  }
  // How the stream ended (after a Read returned fewer events).
  grpc::Status Finish() { return reader_->Finish(); }
  // Disconnects as a client does.
  grpc::Status Cancel();

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<gv1::WatchGoalsResponse>> reader_;
};

// The goal a change event is about (`goals/{goal}`): the goal itself, or the
// goal of a key result or a check-in; empty for a cycle.
std::string GoalOfEvent(const gv1::WatchGoalsResponse& event);

// Sum of the samples of metric `name` whose labels include all of `labels`
// in a Prometheus text exposition; -1 when there is none.
double SeriesValue(const std::string& exposition, const std::string& name,
                   const std::map<std::string, std::string>& labels);

// Output and exit code of `promtool check metrics` on an exposition.
std::pair<int, std::string> PromtoolCheck(const std::string& exposition,
                                          const std::string& dir);

}  // namespace sightline::testing
