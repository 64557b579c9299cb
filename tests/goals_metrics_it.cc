// /metrics of the goals process: a valid exposition, the go-grpc-prometheus
// server series of every GoalService method, client series of the calls it
// made to the people service, and the sightline_goals gauges once refreshed.

#include <map>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;

constexpr char kGoalService[] = "sightline.goals.v1.GoalService";
constexpr char kPeopleService[] = "sightline.people.v1.PeopleService";

std::string CycleId(const std::string& name) {
  return name.substr(std::string("cycles/").size());
}

class GoalsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = GoalsCluster::Start(Db::kSqlite, {"--metrics_refresh=200ms"});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
  }

  std::string Scrape() {
    auto text = cluster_->service().ScrapeMetrics();
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  std::unique_ptr<GoalsCluster> cluster_;
};

// The change-log head is on /metrics from the start and follows commits: the
// Watch alert compares it with what streams send.
TEST_F(GoalsMetricsTest, ChangeFeedHeadFollowsCommits) {
  const double before = SeriesValue(Scrape(), "sightline_change_feed_head", {});
  ASSERT_GE(before, 0);
  auto cycle = cluster_->CreateCycle("FY");
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  gv1::Goal goal;
  ASSERT_THAT(
      cluster_->CreateGoal("ic-eng-1",
                           GoalMsg("Followed", cluster_->Person("ic-eng-1"),
                                   gv1::INDIVIDUAL, cycle->name()),
                           {NumberKr("KR", 0, 100)}, &goal),
      GrpcOk());
  double after = before;
  for (int i = 0; i < 300 && after <= before; ++i) {
    after = SeriesValue(Scrape(), "sightline_change_feed_head", {});
    if (after <= before) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GT(after, before);
}

TEST_F(GoalsMetricsTest, ExpositionHasRpcSeriesAndGoalGauges) {
  auto cycle = cluster_->CreateCycle("FY");
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  std::string cycle_id = CycleId(cycle->name());
  // One ACTIVE goal with a check-in past expected progress, one DRAFT.
  gv1::Goal active, draft;
  ASSERT_THAT(
      cluster_->CreateGoal("ic-eng-1",
                           GoalMsg("Active", cluster_->Person("ic-eng-1"),
                                   gv1::INDIVIDUAL, cycle->name()),
                           {NumberKr("KR", 0, 100)}, &active),
      GrpcOk());
  auto draft_msg = GoalMsg("Draft", cluster_->Person("ic-eng-1"),
                           gv1::INDIVIDUAL, cycle->name());
  draft_msg.set_state(gv1::Goal::DRAFT);
  ASSERT_THAT(cluster_->CreateGoal("ic-eng-1", draft_msg, {}, &draft),
              GrpcOk());
  auto krs = cluster_->KeyResults("ic-eng-1", active.name());
  ASSERT_TRUE(krs.ok()) << krs.status();
  gv1::CheckIn c;
  ASSERT_THAT(
      cluster_->CheckIn("ic-eng-1", active.name(), (*krs)[0].name(), 60, &c),
      GrpcOk());
  gv1::Goal missing;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", "goals/no-such-goal", &missing),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

  // The gauges follow within a few refreshes.
  std::string text;
  std::map<std::string, std::string> active_labels = {{"cycle", cycle_id},
                                                      {"level", "INDIVIDUAL"},
                                                      {"state", "ACTIVE"},
                                                      {"health", "ON_TRACK"}};
  std::map<std::string, std::string> draft_labels = {
      {"cycle", cycle_id}, {"state", "DRAFT"}, {"health", "NONE"}};
  for (int i = 0; i < 300; ++i) {
    text = Scrape();
    if (SeriesValue(text, "sightline_goals", active_labels) == 1 &&
        SeriesValue(text, "sightline_goals", draft_labels) == 1) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(SeriesValue(text, "sightline_goals", active_labels), 1) << text;
  EXPECT_EQ(SeriesValue(text, "sightline_goals", draft_labels), 1);
  EXPECT_EQ(SeriesValue(text, "sightline_goals", {{"cycle", cycle_id}}), 2);
  EXPECT_EQ(SeriesValue(text, "sightline_goals_check_ins_total",
                        {{"cycle", cycle_id}}),
            1);

  auto [rc, out] = PromtoolCheck(text, cluster_->dir());
  EXPECT_EQ(rc, 0) << out;

  // Server series exist for every method, from the start, with its type.
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          kGoalService);
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    SCOPED_TRACE(m->name());
    std::string type = m->server_streaming() ? "server_stream" : "unary";
    std::map<std::string, std::string> labels = {{"grpc_service", kGoalService},
                                                 {"grpc_method", m->name()},
                                                 {"grpc_type", type}};
    EXPECT_GE(SeriesValue(text, "grpc_server_started_total", labels), 0);
    EXPECT_GE(SeriesValue(text, "grpc_server_handled_total", labels), 0);
    EXPECT_GE(SeriesValue(text, "grpc_server_handling_seconds_count", labels),
              0);
    labels["grpc_code"] = "OK";
    EXPECT_GE(SeriesValue(text, "grpc_server_handled_total", labels), 0);
  }
  auto handled = [&](const std::string& method, const std::string& code) {
    return SeriesValue(text, "grpc_server_handled_total",
                       {{"grpc_service", kGoalService},
                        {"grpc_method", method},
                        {"grpc_code", code}});
  };
  EXPECT_EQ(handled("CreateGoal", "OK"), 2);
  EXPECT_EQ(handled("CreateCheckIn", "OK"), 1);
  EXPECT_EQ(handled("CreateCycle", "OK"), 1);
  EXPECT_EQ(handled("GetGoal", "NotFound"), 1);
  EXPECT_EQ(handled("GetGoal", "InvalidArgument"), 0);

  // Client series of the calls made to the people service: the directory's
  // load and watch, and the validation of the goals' owners.
  auto client = [&](const std::string& metric, const std::string& method,
                    const std::string& code) {
    std::map<std::string, std::string> labels = {
        {"grpc_service", kPeopleService}, {"grpc_method", method}};
    if (!code.empty()) labels["grpc_code"] = code;
    return SeriesValue(text, metric, labels);
  };
  EXPECT_GE(client("grpc_client_handled_total", "ListPeople", "OK"), 1);
  EXPECT_GE(client("grpc_client_handled_total", "ListTeams", "OK"), 1);
  EXPECT_GE(client("grpc_client_handled_total", "BatchGetPeople", "OK"), 1);
  EXPECT_GE(client("grpc_client_started_total", "BatchGetPeople", ""), 1);
  EXPECT_GE(client("grpc_client_started_total", "WatchPeople", ""), 1);
  EXPECT_GE(client("grpc_client_handling_seconds_count", "BatchGetPeople", ""),
            1);

  // No goal or person id is ever a label value.
  EXPECT_FALSE(absl::StrContains(text, active.name().substr(6))) << text;
  EXPECT_FALSE(absl::StrContains(
      text,
      cluster_->Person("ic-eng-1").substr(std::string("people/").size())));
}

TEST_F(GoalsMetricsTest, ReadyForTrafficOnceTheWriterCacheIsWarm) {
  // The binary reports its service SERVING (what a readiness probe asks)
  // only after the writer's cache is warm, and says so in its log.
  ASSERT_TRUE(WaitForServing(cluster_->service().address(), absl::Seconds(60),
                             nullptr, "sightline.goals.v1.GoalService")
                  .ok());
  // The log is written by a background flusher: wait (bounded) for it.
  std::string log;
  for (int i = 0; i < 200; ++i) {
    log = cluster_->service().Log();
    if (log.find("\"msg\":\"ready\"") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  size_t warm = log.find("\"writer cache prewarmed\"");
  size_t ready = log.find("\"msg\":\"ready\"");
  ASSERT_NE(warm, std::string::npos) << log;
  ASSERT_NE(ready, std::string::npos) << log;
  EXPECT_LT(warm, ready);
  EXPECT_NE(log.find("longest_write_wait_ms"), std::string::npos);
}

TEST_F(GoalsMetricsTest, GaugesFollowAStateChange) {
  auto cycle = cluster_->CreateCycle("FY");
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  std::string cycle_id = CycleId(cycle->name());
  gv1::Goal g;
  ASSERT_THAT(cluster_->CreateGoal(
                  "ic-eng-1",
                  GoalMsg("Soon cancelled", cluster_->Person("ic-eng-1"),
                          gv1::INDIVIDUAL, cycle->name()),
                  {}, &g),
              GrpcOk());
  gv1::UpdateGoalRequest req;
  req.mutable_goal()->set_name(g.name());
  req.mutable_goal()->set_state(gv1::Goal::CANCELLED);
  req.mutable_update_mask()->add_paths("state");
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("ic-eng-1"), req, &g),
              GrpcOk());
  std::map<std::string, std::string> cancelled = {
      {"cycle", cycle_id}, {"state", "CANCELLED"}, {"health", "NONE"}};
  std::map<std::string, std::string> active = {{"cycle", cycle_id},
                                               {"state", "ACTIVE"}};
  std::string text;
  for (int i = 0; i < 300; ++i) {
    text = Scrape();
    if (SeriesValue(text, "sightline_goals", cancelled) == 1) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(SeriesValue(text, "sightline_goals", cancelled), 1) << text;
  // An ACTIVE series, if one was published before, is back to 0.
  EXPECT_LE(SeriesValue(text, "sightline_goals", active), 0);
}

}  // namespace
}  // namespace sightline::testing
