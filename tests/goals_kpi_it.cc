// Key results that follow a KPI, through the real binaries (people, metrics,
// goals), on SQLite and on PostgreSQL: points written to a linked KPI move the
// key result with a check-in by the system; a KPI the key result's owner may
// not read cannot be linked; and SIGKILL of the goals service between writes
// neither loses nor repeats a check-in.

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "lib/testing/service.h"
#include "lib/testing/status_matchers.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {
namespace {

namespace mv1 = ::sightline::metrics::v1;
using ::google::protobuf::util::TimeUtil;
using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

class GoalsKpiTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    auto started = GoalsCluster::Start(
        GetParam(), {}, DefaultOrg(),
        [this](GoalsCluster& c) -> absl::StatusOr<std::vector<std::string>> {
          return StartMetrics(c);
        });
    ASSERT_TRUE(started.ok()) << started.status();
    cluster_ = std::move(*started);
    auto cycle = cluster_->CreateCycle("FY");
    ASSERT_TRUE(cycle.ok()) << cycle.status();
    cycle_ = cycle->name();
    metrics_stub_ = mv1::MetricsService::NewStub(metrics_->Channel());
    // mgr-sales's KPIs: one everybody reads, one only the chain above.
    ASSERT_THAT(CreateKpi("revenue", mv1::PUBLIC), GrpcOk());
    ASSERT_THAT(CreateKpi("quota", mv1::PRIVATE), GrpcOk());
  }

  void TearDown() override {
    // Goals first (it follows metrics), then metrics, then people.
    metrics_stub_.reset();
    if (cluster_ != nullptr) cluster_->service().Stop();
    if (metrics_ != nullptr) metrics_->Stop();
    metrics_.reset();
    cluster_.reset();
  }

  // The metrics binary beside the people service, before goals starts.
  absl::StatusOr<std::vector<std::string>> StartMetrics(GoalsCluster& c) {
    std::string db_url = c.dir() + "/metrics.db";
    if (GetParam() == Db::kPostgres) {
      auto url = c.people().postgres()->CreateDatabase("metrics");
      if (!url.ok()) return url.status();
      db_url = *url;
    }
    auto svc = ServiceProcess::Start(
        c.dir(), "metrics", BinaryPath("SIGHTLINE_METRICS_BINARY"),
        {"--db=" + db_url, "--jwt_key_file=" + c.tokens().secret_file(),
         "--people_address=" + c.people().service().address(),
         "--change_poll_interval=50ms", "--shutdown_grace=10s"});
    if (!svc.ok()) return svc.status();
    metrics_ = std::move(*svc);
    // The org was seeded before: the first load of its replica holds it.
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (Count(metrics_->Log(), "people directory loaded") < 1) {
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError("metrics never loaded the org");
      absl::SleepFor(absl::Milliseconds(50));
    }
    return std::vector<std::string>{"--metrics_service_address=" +
                                    metrics_->address()};
  }

  grpc::Status CreateKpi(const std::string& id, mv1::Visibility visibility,
                         const std::string& formula = "") {
    mv1::CreateKpiRequest req;
    req.set_kpi_id(id);
    mv1::Kpi* k = req.mutable_kpi();
    k->set_display_name(id);
    k->set_formula(formula);
    k->set_owner_person(cluster_->Person("mgr-sales"));
    k->set_aggregation(mv1::Kpi::LAST);
    k->set_period(mv1::Kpi::DAY);
    k->set_visibility(visibility);
    k->set_direction(mv1::Kpi::HIGHER_IS_BETTER);
    k->set_perspective(mv1::Kpi::FINANCIAL);
    mv1::Kpi out;
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->Token("mgr-sales"), absl::Seconds(20));
    return metrics_stub_->CreateKpi(&ctx, req, &out);
  }

  // One point at a time of its own: later writes are later points, so the
  // KPI's value (LAST) is the value written last.
  grpc::Status WritePoint(const std::string& kpi, double value) {
    mv1::BatchWriteDataPointsRequest req;
    mv1::DataPoint* p = req.add_points();
    p->set_kpi(absl::StrCat("kpis/", kpi));
    *p->mutable_time() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(absl::Now()) - 60'000'000 + ++points_);
    p->set_value(value);
    p->set_source("goals-kpi-it");
    mv1::WriteDataPointsResponse out;
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->Token("mgr-sales"), absl::Seconds(20));
    return metrics_stub_->BatchWriteDataPoints(&ctx, req, &out);
  }

  // A goal of `owner` with one key result, linked to `kpi` when set.
  grpc::Status MakeGoal(const std::string& owner, const std::string& kpi,
                        std::string* goal, std::string* kr) {
    gv1::KeyResult k = NumberKr("revenue", 0, 100);
    k.set_kpi(kpi);
    gv1::Goal out;
    grpc::Status st = cluster_->CreateGoal(
        owner,
        GoalMsg("Help sales", cluster_->Person(owner), gv1::INDIVIDUAL, cycle_),
        {k}, &out);
    if (!st.ok()) return st;
    *goal = out.name();
    auto krs = cluster_->KeyResults(owner, *goal);
    if (!krs.ok() || krs->size() != 1)
      return grpc::Status(grpc::StatusCode::INTERNAL, "no key result");
    *kr = (*krs)[0].name();
    return grpc::Status::OK;
  }

  grpc::Status Link(const std::string& as, const std::string& kr,
                    const std::string& kpi) {
    gv1::UpdateKeyResultRequest req;
    req.mutable_key_result()->set_name(kr);
    req.mutable_key_result()->set_kpi(kpi);
    req.mutable_update_mask()->add_paths("kpi");
    req.set_reason("link");
    gv1::KeyResult out;
    return cluster_->Call(&gv1::GoalService::Stub::UpdateKeyResult,
                          cluster_->Token(as), req, &out);
  }

  double Current(const std::string& goal) {
    auto krs = cluster_->KeyResults("ceo", goal);
    EXPECT_TRUE(krs.ok()) << krs.status();
    return krs.ok() && krs->size() == 1 ? (*krs)[0].current() : -1;
  }

  // Polls (bounded) until the key result's current value is `want`.
  bool WaitForCurrent(const std::string& goal, double want) {
    for (int i = 0; i < 600; ++i) {
      if (Current(goal) == want) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::vector<gv1::CheckIn> CheckIns(const std::string& goal) {
    gv1::ListCheckInsRequest req;
    req.set_parent(goal);
    req.set_page_size(100);
    gv1::ListCheckInsResponse resp;
    EXPECT_THAT(cluster_->Call(&gv1::GoalService::Stub::ListCheckIns,
                               cluster_->Token("ceo"), req, &resp),
                GrpcOk());
    // Oldest first.
    return {resp.check_ins().rbegin(), resp.check_ins().rend()};
  }

  absl::Status KillAndRestartMetrics() {
    Process* p = metrics_->process();
    if (auto st = p->Signal(SIGKILL); !st.ok()) return st;
    if (auto w = p->Wait(absl::Seconds(20)); !w.ok()) return w.status();
    return metrics_->Restart();
  }

  absl::Status KillAndRestartGoals() {
    Process* p = cluster_->service().process();
    if (auto st = p->Signal(SIGKILL); !st.ok()) return st;
    if (auto w = p->Wait(absl::Seconds(20)); !w.ok()) return w.status();
    return cluster_->service().Restart();
  }

  std::unique_ptr<GoalsCluster> cluster_;
  std::unique_ptr<ServiceProcess> metrics_;
  std::unique_ptr<mv1::MetricsService::Stub> metrics_stub_;
  std::string cycle_;
  int points_ = 0;
};

TEST_P(GoalsKpiTest, PointsMoveTheLinkedKeyResultWithASystemCheckIn) {
  std::string goal, kr, other_goal, other_kr;
  ASSERT_THAT(MakeGoal("ic-eng-1", "kpis/revenue", &goal, &kr), GrpcOk());
  ASSERT_THAT(MakeGoal("ic-eng-2", "kpis/revenue", &other_goal, &other_kr),
              GrpcOk());

  ASSERT_THAT(WritePoint("revenue", 40), GrpcOk());
  ASSERT_TRUE(WaitForCurrent(goal, 40));
  ASSERT_THAT(WritePoint("revenue", 55), GrpcOk());
  ASSERT_TRUE(WaitForCurrent(goal, 55));

  auto cis = CheckIns(goal);
  ASSERT_EQ(cis.size(), 2u);
  for (const auto& c : cis) {
    EXPECT_EQ(c.author(), "system");
    ASSERT_EQ(c.values_size(), 1);
    EXPECT_EQ(c.values(0).key_result(), kr);
    EXPECT_THAT(c.note(), HasSubstr("kpis/revenue = "));
    EXPECT_THAT(c.note(), HasSubstr(" over "));
  }
  EXPECT_EQ(cis[0].values(0).value(), 40);
  EXPECT_THAT(cis[1].note(), HasSubstr("kpis/revenue = 55 over "));
  gv1::Goal g;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", goal, &g), GrpcOk());
  EXPECT_NEAR(g.progress(), 0.55, 1e-9);

  // Unlinked: the other key result, still linked, moves; this one stays.
  ASSERT_THAT(Link("ic-eng-1", kr, ""), GrpcOk());
  ASSERT_THAT(WritePoint("revenue", 70), GrpcOk());
  ASSERT_TRUE(WaitForCurrent(other_goal, 70));
  EXPECT_EQ(Current(goal), 55);
  EXPECT_EQ(CheckIns(goal).size(), 2u);
}

TEST_P(GoalsKpiTest, AKpiTheOwnerCannotReadCannotBeLinked) {
  std::string goal, kr;
  // quota is PRIVATE to mgr-sales and the chain above: ic-eng-1 cannot read
  // it, not even when the CEO (who can) does the linking.
  EXPECT_THAT(MakeGoal("ic-eng-1", "kpis/quota", &goal, &kr),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                           HasSubstr("key_results[0].kpi")));
  ASSERT_THAT(MakeGoal("ic-eng-1", "", &goal, &kr), GrpcOk());
  EXPECT_THAT(Link("ceo", kr, "kpis/quota"),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                           HasSubstr("key_result.kpi")));
  EXPECT_THAT(Link("ic-eng-1", kr, "kpis/no-such-kpi"),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           HasSubstr("key_result.kpi")));
  // mgr-sales owns it: their key result may follow it.
  std::string own_goal, own_kr;
  EXPECT_THAT(MakeGoal("mgr-sales", "kpis/quota", &own_goal, &own_kr),
              GrpcOk());
  // Metrics down: UNAVAILABLE, and nothing linked.
  metrics_->Stop();
  EXPECT_THAT(Link("ic-eng-1", kr, "kpis/revenue"),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

// SIGKILL of the goals service right after writes, at moments that vary,
// then a restart: every distinct value is one check-in, in order; a value
// written twice in a row is one check-in; none is lost.
TEST_P(GoalsKpiTest, KillingGoalsBetweenWritesNeitherLosesNorRepeats) {
  std::string goal, kr;
  ASSERT_THAT(MakeGoal("ic-eng-1", "kpis/revenue", &goal, &kr), GrpcOk());
  const std::vector<double> values = {10, 20, 20, 30, 45, 45, 60, 75};
  const std::vector<int> kill_after_ms = {0, -1, 5, 30, -1, 0, 100, -1};
  std::vector<double> expected;
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_THAT(WritePoint("revenue", values[i]), GrpcOk());
    if (expected.empty() || expected.back() != values[i])
      expected.push_back(values[i]);
    if (kill_after_ms[i] >= 0) {
      absl::SleepFor(absl::Milliseconds(kill_after_ms[i]));
      ASSERT_TRUE(KillAndRestartGoals().ok()) << "at write " << i;
    }
    ASSERT_TRUE(WaitForCurrent(goal, values[i])) << "at write " << i;
  }
  // Let any replay settle: a last write with a new value moves it once more.
  ASSERT_THAT(WritePoint("revenue", 90), GrpcOk());
  expected.push_back(90);
  ASSERT_TRUE(WaitForCurrent(goal, 90));

  std::vector<double> seen;
  for (const auto& c : CheckIns(goal)) {
    EXPECT_EQ(c.author(), "system");
    ASSERT_EQ(c.values_size(), 1);
    seen.push_back(c.values(0).value());
  }
  EXPECT_THAT(seen, ElementsAreArray(expected));
  gv1::Goal g;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", goal, &g), GrpcOk());
  EXPECT_NEAR(g.progress(), 0.9, 1e-9);
}

// One KPI followed by key results at two levels of a three-level tree:
// each key result follows, and the roll-up to the company goal equals the
// recomputation from the key results.
TEST_P(GoalsKpiTest, KeyResultsAcrossAThreeLevelTreeFollowAndRollUp) {
  auto create = [&](const std::string& as, gv1::Goal msg,
                    std::vector<gv1::KeyResult> krs, gv1::Goal* out) {
    ASSERT_THAT(cluster_->CreateGoal(as, msg, krs, out), GrpcOk());
  };
  auto linked = [](const std::string& title, double target) {
    gv1::KeyResult k = NumberKr(title, 0, target);
    k.set_kpi("kpis/revenue");
    return k;
  };
  gv1::Goal company, team, ind1, ind2;
  auto company_msg =
      GoalMsg("Grow", cluster_->Person("ceo"), gv1::COMPANY, cycle_);
  company_msg.set_progress_source(gv1::Goal::CHILDREN);
  create("ceo", company_msg, {}, &company);
  create(
      "mgr-eng",
      GoalMsg("Team", cluster_->Team("eng"), gv1::TEAM, cycle_, company.name()),
      {linked("team revenue", 100)}, &team);
  create("ic-eng-1",
         GoalMsg("One", cluster_->Person("ic-eng-1"), gv1::INDIVIDUAL, cycle_,
                 team.name()),
         {linked("my revenue", 100)}, &ind1);
  create("ic-eng-2",
         GoalMsg("Two", cluster_->Person("ic-eng-2"), gv1::INDIVIDUAL, cycle_,
                 team.name()),
         {linked("my revenue", 200)}, &ind2);

  auto progress = [&](const std::string& as, const std::string& goal) {
    gv1::Goal g;
    EXPECT_THAT(cluster_->GetGoal(as, goal, &g), GrpcOk());
    return g.progress();
  };
  for (double v : {50.0, 80.0}) {
    ASSERT_THAT(WritePoint("revenue", v), GrpcOk());
    ASSERT_TRUE(WaitForCurrent(ind1.name(), v));
    ASSERT_TRUE(WaitForCurrent(ind2.name(), v));
    // The team goal: its key result and its two children in one weighted
    // mean (BOTH, weights 1); the company goal: its one child.
    const double p1 = v / 100, p2 = v / 200, team_kr = v / 100;
    const double team_p = (team_kr + p1 + p2) / 3;
    bool settled = false;
    for (int i = 0; i < 600 && !settled; ++i) {
      settled = std::abs(progress("ceo", team.name()) - team_p) < 1e-9 &&
                std::abs(progress("ceo", company.name()) - team_p) < 1e-9;
      if (!settled) absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_TRUE(settled) << "at " << v;
    EXPECT_NEAR(progress("ic-eng-1", ind1.name()), p1, 1e-9);
    EXPECT_NEAR(progress("ic-eng-2", ind2.name()), p2, 1e-9);
    EXPECT_NEAR(progress("ceo", team.name()), team_p, 1e-9);
    EXPECT_NEAR(progress("ceo", company.name()), team_p, 1e-9);
  }
  // One system check-in per goal and value.
  EXPECT_EQ(CheckIns(team.name()).size(), 2u);
  EXPECT_EQ(CheckIns(ind1.name()).size(), 2u);
  EXPECT_EQ(CheckIns(ind2.name()).size(), 2u);
}

// A key result may follow a derived KPI: points of its inputs move it.
TEST_P(GoalsKpiTest, PointsOfAnInputMoveAKeyResultLinkedToADerivedKpi) {
  ASSERT_THAT(CreateKpi("revhalf", mv1::PUBLIC, "revenue / 2"), GrpcOk());
  ASSERT_THAT(CreateKpi("revquarter", mv1::PUBLIC, "revhalf / 2"), GrpcOk());
  std::string goal, kr, deep_goal, deep_kr;
  ASSERT_THAT(MakeGoal("ic-eng-1", "kpis/revhalf", &goal, &kr), GrpcOk());
  ASSERT_THAT(MakeGoal("ic-eng-2", "kpis/revquarter", &deep_goal, &deep_kr),
              GrpcOk());
  ASSERT_THAT(WritePoint("revenue", 80), GrpcOk());
  ASSERT_TRUE(WaitForCurrent(goal, 40));
  ASSERT_TRUE(WaitForCurrent(deep_goal, 20));
  ASSERT_THAT(WritePoint("revenue", 100), GrpcOk());
  ASSERT_TRUE(WaitForCurrent(goal, 50));
  ASSERT_TRUE(WaitForCurrent(deep_goal, 25));
  auto cis = CheckIns(goal);
  ASSERT_EQ(cis.size(), 2u);
  EXPECT_THAT(cis[1].note(), HasSubstr("kpis/revhalf = 50 over "));
  EXPECT_EQ(CheckIns(deep_goal).size(), 2u);
}

// A PUBLIC derived KPI over a PRIVATE one: its values are the private
// KPI's, so an owner who may not read the input cannot link it either.
TEST_P(GoalsKpiTest, ADerivedKpiOverAnInputTheOwnerCannotReadCannotBeLinked) {
  ASSERT_THAT(CreateKpi("quotadouble", mv1::PUBLIC, "quota * 2"), GrpcOk());
  std::string goal, kr;
  EXPECT_THAT(MakeGoal("ic-eng-1", "kpis/quotadouble", &goal, &kr),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                           HasSubstr("key_results[0].kpi")));
  std::string own_goal, own_kr;
  ASSERT_THAT(MakeGoal("mgr-sales", "kpis/quotadouble", &own_goal, &own_kr),
              GrpcOk());
  ASSERT_THAT(WritePoint("quota", 21), GrpcOk());
  EXPECT_TRUE(WaitForCurrent(own_goal, 42));
}

// SIGKILL of the metrics service right after acknowledged writes, then a
// restart: the goals service resumes its feed and every value is one
// check-in, in order.
TEST_P(GoalsKpiTest, KillingMetricsBetweenWritesNeitherLosesNorRepeats) {
  std::string goal, kr;
  ASSERT_THAT(MakeGoal("ic-eng-1", "kpis/revenue", &goal, &kr), GrpcOk());
  const std::vector<double> values = {10, 20, 35, 50};
  const std::vector<int> kill_after_ms = {0, 20, -1, 0};
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_THAT(WritePoint("revenue", values[i]), GrpcOk());
    if (kill_after_ms[i] >= 0) {
      absl::SleepFor(absl::Milliseconds(kill_after_ms[i]));
      ASSERT_TRUE(KillAndRestartMetrics().ok()) << "at write " << i;
    }
    ASSERT_TRUE(WaitForCurrent(goal, values[i])) << "at write " << i;
  }
  std::vector<double> seen;
  for (const auto& c : CheckIns(goal)) {
    EXPECT_EQ(c.author(), "system");
    ASSERT_EQ(c.values_size(), 1);
    seen.push_back(c.values(0).value());
  }
  EXPECT_THAT(seen, ElementsAreArray(values));
}

INSTANTIATE_TEST_SUITE_P(Db, GoalsKpiTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
