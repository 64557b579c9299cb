// GetScorecard over the real binaries: people, goals, feedback and metrics on
// SQLite and on PostgreSQL, the metrics service reading goals and feedback with
// each caller's own token. The visibility matrix (a private goal and a private
// KPI the team lead may not read, anonymous feedback under the floor), a
// dependency stopped by pid, and bad input.

#include <sys/wait.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "tests/feedback_cluster.h"

namespace sightline::testing {
namespace {

namespace mv1 = ::sightline::metrics::v1;
using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// eng (lead lead-eng) under exec (lead ceo). ic-1 and ic-2 are in eng but
// report to mgr-a, not to the team's lead: lead-eng is not in their chain,
// so their PRIVATE goals and KPIs are not lead-eng's to read.
//   ceo (exec)
//   +- hr (exec, hr_admin)
//   +- lead-eng (eng): ic-3 (eng)
//   +- mgr-a (exec): ic-1, ic-2 (eng)
//   +- outsider (exec)
OrgSpec ScorecardOrg() {
  OrgSpec org;
  org.teams = {{"exec", "", "ceo"}, {"eng", "exec", "lead-eng"}};
  org.people = {{"ceo", "", "exec", {}},
                {"hr", "ceo", "exec", {auth::Role::kHrAdmin}},
                {"lead-eng", "ceo", "eng", {}},
                {"mgr-a", "ceo", "exec", {}},
                {"outsider", "ceo", "exec", {}},
                {"ic-1", "mgr-a", "eng", {}},
                {"ic-2", "mgr-a", "eng", {}},
                {"ic-3", "lead-eng", "eng", {}}};
  return org;
}

class ScorecardIT : public ::testing::TestWithParam<Db> {
 protected:
  // One set of processes per database, started by the first test that needs
  // it and shared by the tests of that database.
  struct World {
    FeedbackCluster* cluster = nullptr;
    ServiceProcess* metrics = nullptr;
    mv1::MetricsService::Stub* stub = nullptr;
    std::string cycle;
  };

  void SetUp() override {
    World& w = worlds_[GetParam()];
    if (w.cluster == nullptr) {
      ASSERT_NO_FATAL_FAILURE(Start(GetParam(), &w));
    }
    cluster_ = w.cluster;
    metrics_ = w.metrics;
    stub_ = w.stub;
    cycle_ = w.cycle;
  }

  static void Start(Db db, World* w) {
    auto c = FeedbackCluster::Start(db, {}, ScorecardOrg());
    ASSERT_TRUE(c.ok()) << c.status();
    w->cluster = std::move(*c).release();
    PeopleCluster& people = w->cluster->goals().people();
    std::string db_url = people.dir() + "/metrics.db";
    if (db == Db::kPostgres) {
      auto url = people.postgres()->CreateDatabase("metrics");
      ASSERT_TRUE(url.ok()) << url.status();
      db_url = *url;
    }
    auto svc = ServiceProcess::Start(
        people.dir(), "metrics", BinaryPath("SIGHTLINE_METRICS_BINARY"),
        {"--db=" + db_url, "--jwt_key_file=" + people.tokens().secret_file(),
         "--people_address=" + people.service().address(),
         "--goals_address=" + w->cluster->goals().service().address(),
         "--feedback_address=" + w->cluster->service().address(),
         "--scorecard_timeout=3s", "--change_poll_interval=50ms",
         "--shutdown_grace=10s"});
    ASSERT_TRUE(svc.ok()) << svc.status();
    w->metrics = svc->release();
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!absl::StrContains(w->metrics->Log(), "people directory loaded")) {
      ASSERT_LT(absl::Now(), deadline) << "the metrics replica never loaded";
      absl::SleepFor(absl::Milliseconds(50));
    }
    w->stub = mv1::MetricsService::NewStub(w->metrics->Channel()).release();
    cluster_ = w->cluster;
    stub_ = w->stub;
    ASSERT_NO_FATAL_FAILURE(Seed());
    w->cycle = cycle_;
  }

  static void TearDownTestSuite() {
    for (auto& [db, w] : worlds_) {
      delete w.stub;
      if (w.metrics != nullptr) w.metrics->Stop();
      delete w.metrics;
      delete w.cluster;
    }
    worlds_.clear();
    cluster_ = nullptr;
    metrics_ = nullptr;
    stub_ = nullptr;
  }

  static std::string Token(const std::string& ext) {
    return cluster_->Token(ext);
  }

  static gv1::Goal Goal(const std::string& as, const std::string& owner,
                        const std::string& title,
                        gv1::Goal::Visibility visibility, double done) {
    GoalsCluster& goals = cluster_->goals();
    gv1::Goal g;
    EXPECT_THAT(
        goals.CreateGoal(as,
                         GoalMsg(title, goals.Person(owner), gv1::INDIVIDUAL,
                                 cycle_, "", visibility),
                         {NumberKr("Done", 0, 10)}, &g),
        GrpcOk());
    auto krs = goals.KeyResults(as, g.name());
    EXPECT_TRUE(krs.ok() && !krs->empty());
    if (krs.ok() && !krs->empty()) {
      gv1::CheckIn ci;
      EXPECT_THAT(goals.CheckIn(as, g.name(), (*krs)[0].name(), done, &ci),
                  GrpcOk());
    }
    return g;
  }

  static void Kpi(const std::string& id, const std::string& owner_person,
                  const std::string& owner_team, mv1::Visibility visibility,
                  mv1::Kpi::Perspective perspective, double value) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->ServiceToken());
    mv1::CreateKpiRequest req;
    req.set_kpi_id(id);
    auto* k = req.mutable_kpi();
    k->set_display_name(id);
    if (!owner_person.empty()) k->set_owner_person(owner_person);
    if (!owner_team.empty()) k->set_owner_team(owner_team);
    k->set_visibility(visibility);
    k->set_perspective(perspective);
    k->set_aggregation(mv1::Kpi::LAST);
    k->set_period(mv1::Kpi::MONTH);
    *k->mutable_cadence() = TimeUtil::SecondsToDuration(86400);
    auto* t = k->add_targets();
    *t->mutable_start_time() = TimeUtil::SecondsToTimestamp(0);
    *t->mutable_end_time() = TimeUtil::SecondsToTimestamp(4102444800);  // 2100
    t->set_value(100);
    t->set_amber_threshold(90);
    t->set_red_threshold(70);
    mv1::Kpi made;
    ASSERT_THAT(stub_->CreateKpi(&ctx, req, &made), GrpcOk());
    grpc::ClientContext wctx;
    Authorize(&wctx, cluster_->ServiceToken());
    mv1::BatchWriteDataPointsRequest points;
    auto* p = points.add_points();
    p->set_kpi(made.name());
    *p->mutable_time() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(absl::Now() - absl::Minutes(1)));
    p->set_value(value);
    mv1::WriteDataPointsResponse written;
    ASSERT_THAT(stub_->BatchWriteDataPoints(&wctx, points, &written), GrpcOk());
  }

  static void Seed() {
    GoalsCluster& goals = cluster_->goals();
    auto cycle = goals.CreateCycle("H1");
    ASSERT_TRUE(cycle.ok()) << cycle.status();
    cycle_ = cycle->name();
    // ic-1: a PUBLIC goal at 40%, a PRIVATE one at 100% (hidden from
    // lead-eng); ic-3: a TEAM goal at 60%; the team itself: PUBLIC at 20%.
    Goal("ic-1", "ic-1", "Ship the importer", gv1::Goal::PUBLIC, 4);
    Goal("ic-1", "ic-1", "Private ambition", gv1::Goal::PRIVATE, 10);
    Goal("ic-3", "ic-3", "Cut build time", gv1::Goal::TEAM, 6);
    {
      gv1::Goal g;
      ASSERT_THAT(goals.CreateGoal("lead-eng",
                                   GoalMsg("Platform v2", goals.Team("eng"),
                                           gv1::TEAM, cycle_),
                                   {NumberKr("Done", 0, 10)}, &g),
                  GrpcOk());
      auto krs = goals.KeyResults("lead-eng", g.name());
      ASSERT_TRUE(krs.ok() && !krs->empty());
      gv1::CheckIn ci;
      ASSERT_THAT(goals.CheckIn("lead-eng", g.name(), (*krs)[0].name(), 2, &ci),
                  GrpcOk());
    }
    // KPIs: the team's (CUSTOMER, GREEN), ic-2's PRIVATE one (FINANCIAL,
    // RED; hidden from lead-eng), ic-3's TEAM one (INTERNAL_PROCESS, AMBER),
    // and one of someone outside the team.
    ASSERT_NO_FATAL_FAILURE(Kpi("eng-nps", "", goals.Team("eng"), mv1::TEAM,
                                mv1::Kpi::CUSTOMER, 95));
    ASSERT_NO_FATAL_FAILURE(Kpi("ic2-cost", goals.Person("ic-2"), "",
                                mv1::PRIVATE, mv1::Kpi::FINANCIAL, 10));
    ASSERT_NO_FATAL_FAILURE(Kpi("ic3-lead-time", goals.Person("ic-3"), "",
                                mv1::TEAM, mv1::Kpi::INTERNAL_PROCESS, 80));
    ASSERT_NO_FATAL_FAILURE(Kpi("outsider-revenue", goals.Person("outsider"),
                                "", mv1::PUBLIC, mv1::Kpi::FINANCIAL, 150));
    // Feedback: one praise from the CEO about ic-1 (not anonymous).
    fv1::Feedback f;
    ASSERT_THAT(cluster_->Give("ceo", "ic-1", fv1::PRAISE,
                               fv1::SUBJECT_AND_MANAGERS, false, &f),
                GrpcOk());
  }

  static grpc::Status Card(const std::string& as, const std::string& subject,
                           mv1::Scorecard* out) {
    mv1::GetScorecardRequest req;
    req.set_subject(subject);
    absl::Time now = absl::Now();
    *req.mutable_period_start() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(now - absl::Hours(24 * 10)));
    *req.mutable_period_end() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(now + absl::Hours(24 * 20)));
    return Call(as, req, out);
  }

  static grpc::Status Call(const std::string& as,
                           const mv1::GetScorecardRequest& req,
                           mv1::Scorecard* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token(as), absl::Seconds(20));
    return stub_->GetScorecard(&ctx, req, out);
  }

  // What the goals service itself lists for `as` (team filter): the count
  // and mean progress the scorecard must show.
  static void Expected(const std::string& as, int* count, double* mean) {
    gv1::ListGoalsRequest req;
    req.set_team(cluster_->Team("eng"));
    std::vector<gv1::Goal> listed;
    ASSERT_THAT(cluster_->goals().ListAllGoals(as, req, &listed), GrpcOk());
    *count = static_cast<int>(listed.size());
    double sum = 0;
    for (const auto& g : listed) sum += g.progress();
    *mean = listed.empty() ? 0 : sum / listed.size();
  }

  static std::vector<std::string> KpiNames(const mv1::Scorecard& card) {
    std::vector<std::string> out;
    for (const auto& p : card.perspectives()) {
      for (const auto& k : p.kpis()) out.push_back(k.kpi());
    }
    return out;
  }

  static std::map<Db, World> worlds_;
  // The current test's world.
  static FeedbackCluster* cluster_;
  static ServiceProcess* metrics_;
  static mv1::MetricsService::Stub* stub_;
  static std::string cycle_;
};

std::map<Db, ScorecardIT::World> ScorecardIT::worlds_;
FeedbackCluster* ScorecardIT::cluster_ = nullptr;
ServiceProcess* ScorecardIT::metrics_ = nullptr;
mv1::MetricsService::Stub* ScorecardIT::stub_ = nullptr;
std::string ScorecardIT::cycle_;

TEST_P(ScorecardIT, TeamScorecardFromRealGoalsFeedbackAndKpis) {
  mv1::Scorecard card;
  ASSERT_THAT(Card("ceo", cluster_->Team("eng"), &card), GrpcOk());
  EXPECT_EQ(card.subject(), cluster_->Team("eng"));
  EXPECT_TRUE(card.complete());
  EXPECT_THAT(card.missing_parts(), IsEmpty());
  // The CEO is in everyone's chain: all four goals.
  int count = 0;
  double mean = 0;
  ASSERT_NO_FATAL_FAILURE(Expected("ceo", &count, &mean));
  EXPECT_EQ(count, 4);
  EXPECT_EQ(card.goals().status().state(), mv1::Scorecard::COMPLETE);
  EXPECT_EQ(card.goals().goal_count(), 4);
  EXPECT_NEAR(card.goals().mean_progress(), mean, 1e-9);
  EXPECT_NEAR(card.goals().mean_progress(), (0.4 + 1.0 + 0.6 + 0.2) / 4, 1e-9);
  EXPECT_NEAR(card.goals().score(), card.goals().mean_progress(), 1e-9);
  // Feedback as the feedback service counts it.
  EXPECT_EQ(card.feedback().total(), 1);
  EXPECT_EQ(card.feedback().praise(), 1);
  // KPIs of the team and its members, grouped by perspective.
  ASSERT_EQ(card.perspectives_size(), 4);
  EXPECT_EQ(card.perspectives(0).perspective(), mv1::Kpi::FINANCIAL);
  ASSERT_EQ(card.perspectives(0).kpis_size(), 1);
  EXPECT_EQ(card.perspectives(0).kpis(0).kpi(), "kpis/ic2-cost");
  EXPECT_EQ(card.perspectives(0).kpis(0).status(), mv1::KpiStatus::RED);
  EXPECT_EQ(card.perspectives(0).definitions(0).name(), "kpis/ic2-cost");
  EXPECT_DOUBLE_EQ(card.perspectives(0).score(), 0.0);
  ASSERT_EQ(card.perspectives(1).kpis_size(), 1);
  EXPECT_EQ(card.perspectives(1).kpis(0).status(), mv1::KpiStatus::GREEN);
  ASSERT_EQ(card.perspectives(2).kpis_size(), 1);
  EXPECT_EQ(card.perspectives(2).kpis(0).status(), mv1::KpiStatus::AMBER);
  EXPECT_FALSE(card.perspectives(3).has_score());
  EXPECT_EQ(card.kpis().kpi_count(), 3);
  // Default weights; feedback has no request asked, so no score, and the
  // learning perspective has no KPI: both drop out.
  ASSERT_TRUE(card.has_overall_score());
  double g = card.goals().mean_progress();
  EXPECT_NEAR(card.overall_score(),
              (0.3 * g + 0.15 * 0.0 + 0.15 * 1.0 + 0.15 * 0.5) / 0.75, 1e-9);
}

TEST_P(ScorecardIT, TheLeadSeesOnlyWhatTheLeadMayRead) {
  mv1::Scorecard card;
  ASSERT_THAT(Card("lead-eng", cluster_->Team("eng"), &card), GrpcOk());
  // ic-1's PRIVATE goal is not counted: exactly what goals lists for him.
  int count = 0;
  double mean = 0;
  ASSERT_NO_FATAL_FAILURE(Expected("lead-eng", &count, &mean));
  EXPECT_EQ(count, 3);
  EXPECT_EQ(card.goals().goal_count(), 3);
  EXPECT_NEAR(card.goals().mean_progress(), (0.4 + 0.6 + 0.2) / 3, 1e-9);
  // ic-2's PRIVATE KPI is not shown.
  std::vector<std::string> kpis = KpiNames(card);
  EXPECT_THAT(kpis, ::testing::UnorderedElementsAre("kpis/eng-nps",
                                                    "kpis/ic3-lead-time"));
  EXPECT_FALSE(card.perspectives(0).has_score());
  // hr_admin reads PRIVATE goals and KPIs.
  ASSERT_THAT(Card("hr", cluster_->Team("eng"), &card), GrpcOk());
  EXPECT_EQ(card.goals().goal_count(), 4);
  EXPECT_EQ(card.kpis().kpi_count(), 3);
}

TEST_P(ScorecardIT, WhoMayAsk) {
  mv1::Scorecard card;
  // A member of the team, someone outside it: PERMISSION_DENIED.
  EXPECT_THAT(Card("ic-3", cluster_->Team("eng"), &card),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(Card("outsider", cluster_->Person("ic-1"), &card),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  // A person's own, and their manager's view.
  EXPECT_THAT(Card("ic-1", cluster_->Person("ic-1"), &card), GrpcOk());
  EXPECT_EQ(card.goals().goal_count(), 2);
  ASSERT_THAT(Card("mgr-a", cluster_->Person("ic-2"), &card), GrpcOk());
  EXPECT_THAT(KpiNames(card), ElementsAre("kpis/ic2-cost"));
  // Unknown subjects.
  EXPECT_THAT(Card("hr", "people/nobody", &card),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Card("hr", "teams/nowhere", &card),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_P(ScorecardIT, BadInputNamesTheField) {
  mv1::Scorecard card;
  mv1::GetScorecardRequest req;
  EXPECT_THAT(
      Call("hr", req, &card),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("subject")));
  req.set_subject("robots/r2");
  *req.mutable_period_start() = TimeUtil::SecondsToTimestamp(1800000000);
  *req.mutable_period_end() = TimeUtil::SecondsToTimestamp(1900000000);
  EXPECT_THAT(
      Call("hr", req, &card),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("subject")));
  req.set_subject(cluster_->Team("eng"));
  req.clear_period_start();
  EXPECT_THAT(Call("hr", req, &card),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           HasSubstr("period_start")));
  *req.mutable_period_start() = TimeUtil::SecondsToTimestamp(1900000001);
  EXPECT_THAT(Call("hr", req, &card),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           HasSubstr("period_end")));
}

TEST_P(ScorecardIT, BadWeightsRefuseTheStart) {
  PeopleCluster& people = cluster_->goals().people();
  for (const char* weights :
       {"goals=-1", "goals=0.5,salary=0.5", "goals=0,feedback=0"}) {
    SCOPED_TRACE(weights);
    std::string log = absl::StrCat(people.dir(), "/bad-weights.log");
    ProcessOptions options;
    options.argv = {BinaryPath("SIGHTLINE_METRICS_BINARY"),
                    absl::StrCat("--grpc_address=127.0.0.1:", FreePort()),
                    absl::StrCat("--metrics_address=127.0.0.1:", FreePort()),
                    "--db=" + people.dir() + "/bad-weights.db",
                    "--jwt_key_file=" + people.tokens().secret_file(),
                    absl::StrCat("--scorecard_weights=", weights)};
    options.log_path = log;
    auto p = Process::Start(std::move(options));
    ASSERT_TRUE(p.ok()) << p.status();
    auto status = (*p)->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.ok()) << "the service started with bad weights";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
    EXPECT_THAT((*p)->Log(), HasSubstr("--scorecard_weights: "));
  }
}

// Runs after the others in this file (declaration order): it adds anonymous
// feedback and stops services.
TEST_P(ScorecardIT, ZAnonymousFeedbackUnderTheFloorIsWithheld) {
  fv1::Feedback f;
  ASSERT_THAT(cluster_->Give("ic-1", "ic-3", fv1::CONSTRUCTIVE,
                             fv1::SUBJECT_ONLY, /*anonymous=*/true, &f),
              GrpcOk());
  for (const char* as : {"lead-eng", "hr", "ceo"}) {
    SCOPED_TRACE(as);
    mv1::Scorecard card;
    ASSERT_THAT(Card(as, cluster_->Team("eng"), &card), GrpcOk());
    EXPECT_EQ(card.feedback().status().state(), mv1::Scorecard::WITHHELD);
    EXPECT_THAT(card.feedback().withheld_reason(), HasSubstr("distinct"));
    EXPECT_EQ(card.feedback().total(), 0);
    EXPECT_EQ(card.feedback().praise(), 0);
    EXPECT_EQ(card.feedback().constructive(), 0);
    EXPECT_FALSE(card.feedback().has_score());
    EXPECT_TRUE(card.complete());
  }
}

TEST_P(ScorecardIT, ZStoppedDependencyIsAMissingPartNeverAWhole) {
  mv1::Scorecard card;
  // Feedback stopped (SIGTERM to its pid, waited for).
  cluster_->service().Stop();
  ASSERT_THAT(Card("ceo", cluster_->Team("eng"), &card), GrpcOk());
  EXPECT_FALSE(card.complete());
  EXPECT_THAT(card.missing_parts(), ElementsAre("feedback"));
  EXPECT_EQ(card.feedback().status().state(), mv1::Scorecard::MISSING);
  EXPECT_THAT(card.feedback().status().reason(), HasSubstr("feedback"));
  EXPECT_FALSE(card.has_overall_score());
  EXPECT_EQ(card.goals().goal_count(), 4);  // the other parts stay
  EXPECT_EQ(card.kpis().kpi_count(), 3);

  // Goals stopped too.
  cluster_->goals().service().Stop();
  ASSERT_THAT(Card("ceo", cluster_->Team("eng"), &card), GrpcOk());
  EXPECT_THAT(card.missing_parts(), ElementsAre("goals", "feedback"));
  EXPECT_EQ(card.goals().status().state(), mv1::Scorecard::MISSING);
  EXPECT_EQ(card.goals().goal_count(), 0);
  EXPECT_FALSE(card.goals().has_score());
  EXPECT_FALSE(card.has_overall_score());

  // Both back: whole again.
  ASSERT_TRUE(cluster_->goals().service().Restart().ok());
  ASSERT_TRUE(cluster_->service().Restart().ok());
  bool whole = false;
  for (int i = 0; i < 100 && !whole; ++i) {
    ASSERT_THAT(Card("ceo", cluster_->Team("eng"), &card), GrpcOk());
    whole = card.complete();
    if (!whole) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(whole);
  EXPECT_TRUE(card.has_overall_score());
  EXPECT_EQ(card.goals().goal_count(), 4);
}

INSTANTIATE_TEST_SUITE_P(Db, ScorecardIT,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
