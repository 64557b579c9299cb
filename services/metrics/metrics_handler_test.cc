// The metrics handler on an in-process server (port 0) over the service, a
// real SQLite store and an org in memory: request validation, the mapping of
// statuses, the client stream and the Watch stream.

#include "services/metrics/metrics_handler.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "gtest/gtest.h"
#include "lib/org/fake_org_service.h"
#include "lib/status/status.h"
#include "lib/storage/change_log.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/metrics/sql_repository.h"

namespace sightline::metrics {
namespace {

using google::protobuf::util::TimeUtil;
using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::sightline::testing::IsOk;
using ::testing::HasSubstr;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test";

std::vector<std::string> Violations(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : status::FieldViolations(status::FromGrpc(s)))
    out.push_back(v.field);
  return out;
}

class MetricsHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(bed_.Open("metrics", MetricsMigrations(), kSecret), IsOk());
    repo_ = NewSqlRepository(bed_.db());
    service_ =
        std::make_unique<MetricsService>(repo_.get(), &org_, MetricsOptions{});
    handler_ = std::make_unique<MetricsHandler>(bed_.runtime(), service_.get(),
                                                &org_, bed_.WatchDeps("kpis"));
    auto channel = bed_.Serve(handler_.get());
    ASSERT_NE(channel, nullptr);
    stub_ = v1::MetricsService::NewStub(channel);
  }

  void TearDown() override { bed_.Stop(); }

  std::unique_ptr<grpc::ClientContext> As(const std::string& person) {
    return ::sightline::testing::ContextAs(
        kSecret, person.empty() ? "" : absl::StrCat("people/", person));
  }

  static v1::CreateKpiRequest Orders(const std::string& id) {
    v1::CreateKpiRequest req;
    req.set_kpi_id(id);
    req.mutable_kpi()->set_display_name(id);
    req.mutable_kpi()->set_owner_person("people/mona");
    return req;
  }

  static v1::DataPoint Point(const std::string& kpi, int64_t seconds,
                             double value) {
    v1::DataPoint p;
    p.set_kpi(absl::StrCat("kpis/", kpi));
    *p.mutable_time() = TimeUtil::SecondsToTimestamp(seconds);
    p.set_value(value);
    return p;
  }

  ::sightline::testing::HandlerBed bed_;
  org::FakeOrgService org_;
  std::unique_ptr<KpiRepository> repo_;
  std::unique_ptr<MetricsService> service_;
  std::unique_ptr<MetricsHandler> handler_;
  std::unique_ptr<v1::MetricsService::Stub> stub_;
  // 2026-11-02 00:00 UTC: a Monday, a month before the tests' "now".
  const int64_t t0_ = 1793577600;
};

TEST_F(MetricsHandlerTest, NeedsAToken) {
  v1::Kpi out;
  EXPECT_THAT(stub_->CreateKpi(As("").get(), Orders("orders"), &out),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
}

TEST_F(MetricsHandlerTest, CreateAndGetRoundTrip) {
  v1::CreateKpiRequest req = Orders("orders");
  auto* k = req.mutable_kpi();
  k->set_format(v1::Kpi::CURRENCY);
  k->set_currency_code("EUR");
  k->set_aggregation(v1::Kpi::SUM);
  k->set_period(v1::Kpi::WEEK);
  k->add_dimension_keys("region");
  *k->mutable_cadence() = TimeUtil::SecondsToDuration(3600);
  auto* t = k->add_targets();
  *t->mutable_start_time() = TimeUtil::SecondsToTimestamp(t0_);
  *t->mutable_end_time() = TimeUtil::SecondsToTimestamp(t0_ + 86400 * 90);
  t->set_value(1000);
  t->set_amber_threshold(900);
  v1::Kpi made;
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), req, &made), GrpcOk());
  EXPECT_EQ(made.name(), "kpis/orders");
  EXPECT_FALSE(made.etag().empty());
  v1::GetKpiRequest get;
  get.set_name("kpis/orders");
  v1::Kpi got;
  ASSERT_THAT(stub_->GetKpi(As("pat").get(), get, &got), GrpcOk());
  EXPECT_EQ(got.currency_code(), "EUR");
  EXPECT_EQ(got.period(), v1::Kpi::WEEK);
  EXPECT_EQ(got.cadence().seconds(), 3600);
  ASSERT_EQ(got.targets_size(), 1);
  EXPECT_TRUE(got.targets(0).has_amber_threshold());
  EXPECT_FALSE(got.targets(0).has_red_threshold());
  EXPECT_EQ(got.visibility(), v1::PUBLIC);
}

TEST_F(MetricsHandlerTest, BadInputNamesTheField) {
  v1::CreateKpiRequest req = Orders("Bad_Id");
  req.mutable_kpi()->set_format(static_cast<v1::Kpi::Format>(42));
  req.mutable_kpi()->set_owner_team("groups/x");
  v1::Kpi out;
  grpc::Status st = stub_->CreateKpi(As("mona").get(), req, &out);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Violations(st), ::testing::IsSupersetOf(
                                  {"kpi_id", "kpi.format", "kpi.owner_team"}));
  v1::GetKpiRequest get;
  get.set_name("goals/orders");
  EXPECT_THAT(
      stub_->GetKpi(As("mona").get(), get, &out),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("name")));
  get.set_name("kpis/missing");
  EXPECT_THAT(stub_->GetKpi(As("mona").get(), get, &out),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_F(MetricsHandlerTest, BatchWriteRefusesEveryBadPointAndWritesNothing) {
  v1::Kpi out;
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), Orders("orders"), &out),
              GrpcOk());
  v1::BatchWriteDataPointsRequest req;
  *req.add_points() = Point("orders", t0_, 1);
  *req.add_points() = Point("orders", t0_ + 60, std::nan(""));
  req.add_points()->set_kpi("kpis/orders");  // no time
  *req.add_points() = Point("nope", t0_, 1);
  v1::WriteDataPointsResponse resp;
  grpc::Status st = stub_->BatchWriteDataPoints(As("mona").get(), req, &resp);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Violations(st), ::testing::Contains("points[2].time"));
  // The shape errors come first; once fixed, the rules name the others.
  req.mutable_points(2)->mutable_time()->set_seconds(t0_ + 120);
  st = stub_->BatchWriteDataPoints(As("mona").get(), req, &resp);
  EXPECT_THAT(Violations(st), ::testing::UnorderedElementsAre("points[1].value",
                                                              "points[3].kpi"));
  auto last = repo_->LastPointTime("orders");
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(*last, 0);
}

TEST_F(MetricsHandlerTest, StreamedPointsAreOneTransaction) {
  v1::Kpi out;
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), Orders("orders"), &out),
              GrpcOk());
  auto write = [&](bool with_bad) {
    auto ctx = As("mona");
    v1::WriteDataPointsResponse resp;
    auto writer = stub_->WriteDataPoints(ctx.get(), &resp);
    for (int m = 0; m < 3; ++m) {
      v1::WriteDataPointsRequest msg;
      if (m == 0) msg.set_request_id(with_bad ? "load-bad" : "load-1");
      for (int i = 0; i < 100; ++i) {
        *msg.add_points() = Point("orders", t0_ + (m * 100 + i) * 60, 1);
      }
      if (with_bad && m == 2) msg.mutable_points(5)->set_value(INFINITY);
      EXPECT_TRUE(writer->Write(msg));
    }
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    return std::make_pair(st, resp.written());
  };
  auto [bad, n0] = write(true);
  EXPECT_THAT(bad, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Violations(bad), ::testing::ElementsAre("points[205].value"));
  auto [ok, n1] = write(false);
  ASSERT_THAT(ok, GrpcOk());
  EXPECT_EQ(n1, 300);
  auto [again, n2] = write(false);  // the same request id: the first answer
  ASSERT_THAT(again, GrpcOk());
  EXPECT_EQ(n2, 300);

  v1::QueryKpiRequest q;
  q.set_kpi("kpis/orders");
  *q.mutable_start_time() = TimeUtil::SecondsToTimestamp(t0_);
  *q.mutable_end_time() = TimeUtil::SecondsToTimestamp(t0_ + 86400);
  *q.mutable_step() = TimeUtil::SecondsToDuration(86400);
  v1::QueryKpiResponse r;
  ASSERT_THAT(stub_->QueryKpi(As("mona").get(), q, &r), GrpcOk());
  ASSERT_EQ(r.series_size(), 1);
  ASSERT_EQ(r.series(0).buckets_size(), 1);
  EXPECT_EQ(r.series(0).buckets(0).value(), 300);
  EXPECT_EQ(r.series(0).buckets(0).count(), 300);
}

TEST_F(MetricsHandlerTest, QueryValidatesItsRange) {
  v1::Kpi out;
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), Orders("orders"), &out),
              GrpcOk());
  v1::QueryKpiRequest q;
  q.set_kpi("kpis/orders");
  *q.mutable_start_time() = TimeUtil::SecondsToTimestamp(t0_);
  *q.mutable_end_time() = TimeUtil::SecondsToTimestamp(t0_ + 86400 * 365);
  *q.mutable_step() = TimeUtil::SecondsToDuration(60);  // 525,600 buckets
  v1::QueryKpiResponse r;
  grpc::Status st = stub_->QueryKpi(As("mona").get(), q, &r);
  EXPECT_THAT(Violations(st), ::testing::ElementsAre("step"));
  *q.mutable_end_time() = TimeUtil::SecondsToTimestamp(t0_ - 1);
  *q.mutable_step() = TimeUtil::SecondsToDuration(3600);
  st = stub_->QueryKpi(As("mona").get(), q, &r);
  EXPECT_THAT(Violations(st), ::testing::Contains("end_time"));
}

TEST_F(MetricsHandlerTest, WatchShowsOnlyWhatTheCallerMayRead) {
  auto ctx = As("pat");
  v1::WatchKpisRequest req;
  auto reader = stub_->WatchKpis(ctx.get(), req);
  reader->WaitForInitialMetadata();  // positioned at the head
  v1::Kpi out;
  v1::CreateKpiRequest secret = Orders("secret");
  secret.mutable_kpi()->set_owner_person("people/owen");
  secret.mutable_kpi()->set_visibility(v1::PRIVATE);
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), secret, &out), GrpcOk());
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), Orders("orders"), &out),
              GrpcOk());
  v1::BatchWriteDataPointsRequest w;
  *w.add_points() = Point("orders", t0_, 5);
  *w.add_points() = Point("orders", t0_ + 3600, 6);
  v1::WriteDataPointsResponse wr;
  ASSERT_THAT(stub_->BatchWriteDataPoints(As("mona").get(), w, &wr), GrpcOk());

  v1::WatchKpisResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_EQ(msg.change_type(), v1::WatchKpisResponse::CREATED);
  EXPECT_EQ(msg.kpi().name(), "kpis/orders");  // never kpis/secret
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_EQ(msg.change_type(), v1::WatchKpisResponse::POINTS_WRITTEN);
  EXPECT_EQ(msg.points_written(), 2);
  EXPECT_EQ(msg.points_start_time().seconds(), t0_);
  EXPECT_EQ(msg.points_end_time().seconds(), t0_ + 3600);
  EXPECT_FALSE(msg.resume_token().empty());
  ctx->TryCancel();
  while (reader->Read(&msg)) {
  }
  reader->Finish();
}

// A derived KPI over a KPI the watcher may not read: when its input's points
// were written is the input's to tell, so no POINTS_WRITTEN for it.
TEST_F(MetricsHandlerTest,
       WatchHidesWritesBehindADerivedKpiOfAnUnreadableInput) {
  auto ctx = As("pat");
  v1::WatchKpisRequest req;
  auto reader = stub_->WatchKpis(ctx.get(), req);
  reader->WaitForInitialMetadata();
  v1::Kpi out;
  v1::CreateKpiRequest secret = Orders("secret");
  secret.mutable_kpi()->set_owner_person("people/owen");
  secret.mutable_kpi()->set_visibility(v1::PRIVATE);
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), secret, &out), GrpcOk());
  ASSERT_THAT(stub_->CreateKpi(As("mona").get(), Orders("orders"), &out),
              GrpcOk());
  for (const auto& [id, formula] :
       {std::pair<std::string, std::string>{"secrethalf", "secret / 2"},
        {"ordershalf", "orders / 2"}}) {
    v1::CreateKpiRequest d = Orders(id);
    d.mutable_kpi()->set_formula(formula);
    ASSERT_THAT(stub_->CreateKpi(As("mona").get(), d, &out), GrpcOk()) << id;
  }
  v1::WriteDataPointsResponse wr;
  for (const char* kpi : {"secret", "orders"}) {
    v1::BatchWriteDataPointsRequest w;
    *w.add_points() = Point(kpi, t0_, 8);
    ASSERT_THAT(stub_->BatchWriteDataPoints(As("mona").get(), w, &wr),
                GrpcOk());
  }
  // CREATED orders, secrethalf, ordershalf (never secret), then the points
  // of orders and, moved by them, ordershalf; nothing for secret's write.
  std::vector<std::string> seen;
  v1::WatchKpisResponse msg;
  while (seen.size() < 5 && reader->Read(&msg)) {
    seen.push_back(absl::StrCat(msg.change_type(), " ", msg.kpi().name(), " ",
                                msg.points_written()));
  }
  EXPECT_THAT(seen,
              ::testing::ElementsAre("1 kpis/orders 0", "1 kpis/secrethalf 0",
                                     "1 kpis/ordershalf 0", "4 kpis/orders 1",
                                     "4 kpis/ordershalf 0"));
  ctx->TryCancel();
  while (reader->Read(&msg)) {
  }
  reader->Finish();
}

v1::GetScorecardRequest ScorecardOf(const std::string& subject,
                                    int64_t start_seconds,
                                    int64_t end_seconds) {
  v1::GetScorecardRequest req;
  req.set_subject(subject);
  *req.mutable_period_start() = TimeUtil::SecondsToTimestamp(start_seconds);
  *req.mutable_period_end() = TimeUtil::SecondsToTimestamp(end_seconds);
  return req;
}

TEST_F(MetricsHandlerTest, ScorecardRequestsAreValidatedFieldByField) {
  v1::Scorecard out;
  v1::GetScorecardRequest empty;
  grpc::Status s = stub_->GetScorecard(As("mona").get(), empty, &out);
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Violations(s),
              ::testing::ElementsAre("subject", "period_start", "period_end"));
  s = stub_->GetScorecard(As("mona").get(),
                          ScorecardOf("robots/r2", t0_, t0_ + 86400), &out);
  EXPECT_THAT(Violations(s), ::testing::ElementsAre("subject"));
  s = stub_->GetScorecard(As("mona").get(),
                          ScorecardOf("people/owen", t0_, t0_), &out);
  EXPECT_THAT(Violations(s), ::testing::ElementsAre("period_end"));
  s = stub_->GetScorecard(As("mona").get(), ScorecardOf("teams/", t0_, t0_ + 1),
                          &out);
  EXPECT_THAT(Violations(s), ::testing::ElementsAre("subject"));
}

TEST_F(MetricsHandlerTest, ScorecardWithoutGoalsOrFeedbackSaysSo) {
  // This server has no goals or feedback service: both parts are missing,
  // and no overall score stands in for the whole.
  v1::Scorecard out;
  ASSERT_THAT(stub_->GetScorecard(
                  As("mona").get(),
                  ScorecardOf("people/owen", t0_, t0_ + 30 * 86400), &out),
              GrpcOk());
  EXPECT_EQ(out.subject(), "people/owen");
  EXPECT_FALSE(out.complete());
  EXPECT_THAT(out.missing_parts(), ::testing::ElementsAre("goals", "feedback"));
  EXPECT_EQ(out.goals().status().state(), v1::Scorecard::MISSING);
  EXPECT_THAT(out.goals().status().reason(), HasSubstr("--goals_address"));
  EXPECT_EQ(out.feedback().status().state(), v1::Scorecard::MISSING);
  EXPECT_FALSE(out.has_overall_score());
  ASSERT_EQ(out.perspectives_size(), 4);
  EXPECT_EQ(out.perspectives(3).perspective(), v1::Kpi::LEARNING_AND_GROWTH);
  EXPECT_DOUBLE_EQ(out.goals().weight(), 0.3);
  // A peer may not ask for it.
  EXPECT_THAT(stub_->GetScorecard(
                  As("pat").get(),
                  ScorecardOf("people/owen", t0_, t0_ + 30 * 86400), &out),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
}

}  // namespace
}  // namespace sightline::metrics
