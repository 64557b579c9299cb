// MetricsService over its real SQL repository (a migrated SQLite file) and an
// org of people and teams in memory.

#include "services/metrics/metrics_service.h"

#include <cstdlib>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/org/fake_org_service.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"

namespace sightline::metrics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::InvalidNaming;
using testing::IsOk;
using testing::StatusIs;

int64_t At(int y, int m, int d, int h = 0) {
  return absl::ToUnixMicros(absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0),
                                            absl::UTCTimeZone()));
}

Caller Person(const std::string& id) { return Caller{id, false, false}; }
const Caller kService{"", false, true};
const Caller kHr{"hana", true, false};

class MetricsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("metrics_service_test_", getpid(), "_",
                        std::random_device{}());
    std::filesystem::create_directories(dir_);
    auto db = testing::OpenMigratedSqlite(dir_.string(), "metrics",
                                          MetricsMigrations());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    repo_ = NewSqlRepository(db_.get());
    service_ =
        std::make_unique<MetricsService>(repo_.get(), &org_, MetricsOptions{});
  }
  void TearDown() override {
    service_.reset();
    repo_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  Kpi Counting(const std::string& id, const std::string& owner = "mona") {
    Kpi k;
    k.id = id;
    k.display_name = id;
    k.owner_person_id = owner;
    k.aggregation = Aggregation::kSum;
    k.period = Period::kMonth;
    k.cadence = kMicrosPerDay;
    return k;
  }

  Kpi Create(Kpi k, const Caller& as = Person("mona")) {
    auto made = service_->CreateKpi(as, std::move(k), {}, now_);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *made : Kpi{};
  }

  absl::StatusOr<int64_t> Write(std::vector<Point> points,
                                const Caller& as = Person("mona"),
                                Idempotency idem = {}) {
    return service_->WritePoints(as, std::move(points), idem, now_);
  }

  std::filesystem::path dir_;
  org::FakeOrgService org_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<KpiRepository> repo_;
  std::unique_ptr<MetricsService> service_;
  int64_t now_ = At(2026, 12, 3, 10);
};

TEST_F(MetricsServiceTest, CreateGetAndIdempotentRetry) {
  Kpi k = Counting("orders");
  Idempotency idem{"CreateKpi|mona", "req-1", "fp"};
  auto first = service_->CreateKpi(Person("mona"), k, idem, now_);
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_EQ(first->revision, 1);
  auto again = service_->CreateKpi(Person("mona"), k, idem, now_);
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->id, "orders");
  // The same id without the request id is a second create: refused.
  EXPECT_THAT(service_->CreateKpi(Person("mona"), k, {}, now_).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // A server-chosen id when none is given.
  k.id.clear();
  auto chosen = service_->CreateKpi(Person("mona"), k, {}, now_);
  ASSERT_THAT(chosen.status(), IsOk());
  EXPECT_TRUE(IsKpiId(chosen->id)) << chosen->id;
}

TEST_F(MetricsServiceTest, CreateChecksOwnerAndRights) {
  // Owen cannot create a KPI owned by his manager; his manager can create one
  // for him.
  EXPECT_THAT(
      service_->CreateKpi(Person("owen"), Counting("a"), {}, now_).status(),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      service_->CreateKpi(Person("mona"), Counting("b", "owen"), {}, now_)
          .status(),
      IsOk());
  EXPECT_THAT(
      service_->CreateKpi(Person("mona"), Counting("c", "nobody"), {}, now_)
          .status(),
      InvalidNaming("kpi.owner_person"));
  org_.down = true;
  EXPECT_THAT(
      service_->CreateKpi(Person("mona"), Counting("d"), {}, now_).status(),
      StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(MetricsServiceTest, VisibilityFollowsTheGoalsRules) {
  Kpi k = Counting("secret", "owen");
  k.visibility = Visibility::kPrivate;
  Create(k);
  // Owner, owner's chain, hr_admin and services read it; a peer does not,
  // and cannot tell it from a KPI that does not exist.
  for (const Caller& c :
       {Person("owen"), Person("mona"), Person("ceo"), kHr, kService}) {
    EXPECT_THAT(service_->GetKpi(c, "secret").status(), IsOk()) << c.person_id;
  }
  auto peer = service_->GetKpi(Person("pat"), "secret").status();
  auto none = service_->GetKpi(Person("pat"), "missing").status();
  EXPECT_THAT(peer, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(peer.message(),
            absl::StrReplaceAll(none.message(), {{"missing", "secret"}}));
  EXPECT_THAT(service_->GetStatus(Person("pat"), "secret", now_).status(),
              StatusIs(absl::StatusCode::kNotFound));
  // Nor in lists.
  std::string next;
  auto listed = service_->ListKpis(Person("pat"), {}, {"", 50}, now_, &next);
  ASSERT_THAT(listed.status(), IsOk());
  EXPECT_TRUE(listed->empty());
  listed = service_->ListKpis(Person("mona"), {}, {"", 50}, now_, &next);
  ASSERT_THAT(listed.status(), IsOk());
  EXPECT_EQ(listed->size(), 1u);
  // A TEAM KPI of the platform team: its members read it, sales does not.
  Kpi t = Counting("uptime");
  t.owner_person_id.clear();
  t.owner_team_id = "platform";
  t.visibility = Visibility::kTeam;
  Create(t, Person("leo"));
  EXPECT_THAT(service_->GetKpi(Person("pat"), "uptime").status(), IsOk());
  EXPECT_THAT(service_->GetKpi(Person("eve"), "uptime").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MetricsServiceTest, WritePointsIsAllOrNothingWithOneViolationEach) {
  Kpi k = Counting("orders");
  k.dimension_keys = {"region"};
  Create(k);
  std::vector<Point> points = {
      {"orders", At(2026, 12, 1), 5, "", ""},
      {"nope", At(2026, 12, 1), 1, "", ""},
      {"orders", At(2026, 12, 1, 1), std::nan(""), "", ""},
      {"orders", now_ + 2 * kMicrosPerDay, 1, "", ""},
      {"orders", At(2026, 12, 1, 2), 1, "country=fr", ""},
  };
  auto st = Write(points).status();
  EXPECT_THAT(st, InvalidNaming("points[1].kpi"));
  EXPECT_THAT(st, InvalidNaming("points[2].value"));
  EXPECT_THAT(st, InvalidNaming("points[3].time"));
  EXPECT_THAT(st, InvalidNaming("points[4].dimension"));
  EXPECT_EQ(status::FieldViolations(st).size(), 4u);
  // Nothing was written, not even the good point.
  auto last = repo_->LastPointTime("orders");
  ASSERT_THAT(last.status(), IsOk());
  EXPECT_EQ(*last, 0);
  // A reader who may not write gets PERMISSION_DENIED; an unreadable KPI is
  // unknown.
  EXPECT_THAT(
      Write({{"orders", At(2026, 12, 1), 5, "", ""}}, Person("pat")).status(),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Write({}).status(), InvalidNaming("points"));
}

TEST_F(MetricsServiceTest, ResentPointsReplaceAndAreNeverCountedTwice) {
  Create(Counting("orders"));
  ASSERT_THAT(Write({{"orders", At(2026, 12, 1, 9), 5, "", "crm"},
                     {"orders", At(2026, 12, 2, 9), 7, "", "crm"}})
                  .status(),
              IsOk());
  ASSERT_THAT(Write({{"orders", At(2026, 12, 1, 9), 6, "", "crm"}}).status(),
              IsOk());
  auto v = service_->ValueOver(*repo_->GetKpi("orders"), At(2026, 12, 1),
                               At(2027, 1, 1));
  ASSERT_THAT(v.status(), IsOk());
  EXPECT_EQ(**v, 13);  // 6 replaced 5
  // Within one call, the last of the same key wins.
  ASSERT_THAT(Write({{"orders", At(2026, 12, 2, 9), 1, "", ""},
                     {"orders", At(2026, 12, 2, 9), 2, "", ""}})
                  .status(),
              IsOk());
  v = service_->ValueOver(*repo_->GetKpi("orders"), At(2026, 12, 1),
                          At(2027, 1, 1));
  EXPECT_EQ(**v, 8);
  // A retried request id answers the first count and writes nothing again.
  Idempotency idem{"WriteDataPoints|mona", "w-1", "fp"};
  auto first = Write({{"orders", At(2026, 12, 3, 1), 100, "", ""}},
                     Person("mona"), idem);
  ASSERT_THAT(first.status(), IsOk());
  auto retry = Write({{"orders", At(2026, 12, 3, 1), 100, "", ""}},
                     Person("mona"), idem);
  ASSERT_THAT(retry.status(), IsOk());
  EXPECT_EQ(*retry, 1);
  v = service_->ValueOver(*repo_->GetKpi("orders"), At(2026, 12, 1),
                          At(2027, 1, 1));
  EXPECT_EQ(**v, 108);
}

TEST_F(MetricsServiceTest, QueryBucketsMatchARecomputation) {
  Kpi k = Counting("latency");
  k.aggregation = Aggregation::kMean;
  k.dimension_keys = {"region"};
  Create(k);
  std::vector<Point> points;
  std::mt19937 rng(7);
  int64_t start = At(2026, 11, 1);
  for (int i = 0; i < 2000; ++i) {
    int64_t t = start +
                static_cast<int64_t>(rng() % (30 * 24)) * kMicrosPerHour +
                static_cast<int64_t>(rng() % 3600) * 1000000;
    points.push_back({"latency", t, static_cast<double>(rng() % 1000) / 10,
                      i % 3 == 0 ? "region=emea" : "region=us", ""});
  }
  ASSERT_THAT(Write(points).status(), IsOk());
  // Both paths: hour-aligned (folded hours) and not (raw points).
  for (int64_t offset : {int64_t{0}, int64_t{1234567}}) {
    for (auto agg :
         {Aggregation::kSum, Aggregation::kMean, Aggregation::kMin,
          Aggregation::kMax, Aggregation::kLast, Aggregation::kCount}) {
      PointQuery q{"latency",
                   start + offset,
                   start + offset + 30 * kMicrosPerDay,
                   kMicrosPerDay,
                   "",
                   ""};
      auto got = service_->Query(Person("mona"), q, agg);
      ASSERT_THAT(got.status(), IsOk());
      ASSERT_EQ(got->size(), 1u);
      std::vector<Accum> expect(30);
      // Points with the same (dimension, time) keep the last written.
      std::map<std::pair<std::string, int64_t>, double> unique;
      for (const auto& p : points) unique[{p.dimension, p.time}] = p.value;
      for (const auto& [key, v] : unique) {
        if (key.second < q.start || key.second >= q.end) continue;
        expect[(key.second - q.start) / q.step].Add(key.second, v);
      }
      for (int b = 0; b < 30; ++b) {
        auto want = expect[b].Value(agg);
        auto have = (*got)[0].buckets[b].first;
        ASSERT_EQ(want.has_value(), have.has_value()) << b;
        if (want) {
          EXPECT_NEAR(*have, *want, 1e-9) << "bucket " << b;
        }
      }
    }
  }
  // group_by gives one series per region; a filter keeps one.
  PointQuery g{"latency",          start, start + 30 * kMicrosPerDay,
               30 * kMicrosPerDay, "",    "region"};
  auto grouped = service_->Query(Person("mona"), g, Aggregation::kCount);
  ASSERT_THAT(grouped.status(), IsOk());
  ASSERT_EQ(grouped->size(), 2u);
  EXPECT_EQ((*grouped)[0].dimension, "region=emea");
  EXPECT_EQ((*grouped)[1].dimension, "region=us");
  PointQuery f = g;
  f.group_by.clear();
  f.dimension = "region=emea";
  auto filtered = service_->Query(Person("mona"), f, Aggregation::kCount);
  ASSERT_THAT(filtered.status(), IsOk());
  EXPECT_EQ((*filtered)[0].buckets[0].first, (*grouped)[0].buckets[0].first);
  f.dimension = "country=fr";
  EXPECT_THAT(service_->Query(Person("mona"), f, std::nullopt).status(),
              InvalidNaming("dimension"));
}

// Hours are folded from the call's own points when they had none before and
// from the stored points otherwise: calls that add to, re-send into and open
// hours must leave folds equal to a recomputation from every point.
TEST_F(MetricsServiceTest, HoursFoldedAcrossCallsMatchTheRawPoints) {
  Kpi k = Counting("visits");
  k.aggregation = Aggregation::kMean;
  k.dimension_keys = {"region"};
  Create(k);
  std::mt19937 rng(11);
  const int64_t start = At(2026, 11, 1);
  std::map<std::pair<std::string, int64_t>, double> last;  // what must count
  for (int call = 0; call < 4; ++call) {
    std::vector<Point> points;
    // Later calls reach further, so that they both touch folded hours and
    // open new ones; times on a coarse grid, so that some are re-sent.
    const int64_t hours = 24 * (call + 1);
    for (int i = 0; i < 300; ++i) {
      int64_t t = start + static_cast<int64_t>(rng() % hours) * kMicrosPerHour +
                  static_cast<int64_t>(rng() % 6) * 600 * 1000000;
      double v = static_cast<double>(rng() % 1000) / 10;
      std::string dim = i % 4 == 0 ? "region=emea" : "region=us";
      points.push_back({"visits", t, v, dim, ""});
      last[{dim, t}] = v;
    }
    ASSERT_THAT(Write(points).status(), IsOk());
  }
  for (auto agg : {Aggregation::kSum, Aggregation::kMin, Aggregation::kMax,
                   Aggregation::kLast, Aggregation::kCount}) {
    PointQuery q{"visits",       start, start + 4 * kMicrosPerDay,
                 kMicrosPerHour, "",    ""};
    auto got = service_->Query(Person("mona"), q, agg);
    ASSERT_THAT(got.status(), IsOk());
    ASSERT_EQ(got->size(), 1u);
    std::vector<Accum> expect(96);
    for (const auto& [key, v] : last)
      expect[(key.second - start) / kMicrosPerHour].Add(key.second, v);
    for (int b = 0; b < 96; ++b) {
      auto want = expect[b].Value(agg);
      auto have = (*got)[0].buckets[b].first;
      ASSERT_EQ(want.has_value(), have.has_value()) << b;
      if (want) {
        EXPECT_NEAR(*have, *want, 1e-9) << "hour " << b;
      }
    }
  }
}

TEST_F(MetricsServiceTest, FormulasReferencesCyclesAndDivisionByZero) {
  Create(Counting("orders"));
  Create(Counting("visits"));
  Kpi conv = Counting("conversion");
  conv.formula = "orders / visits";
  conv.format = Format::kPercent;
  Create(conv);
  // Unknown and unreadable references look the same.
  Kpi hidden = Counting("hidden", "eve");
  hidden.visibility = Visibility::kPrivate;
  Create(hidden, Person("mel"));
  Kpi bad = Counting("bad");
  bad.formula = "orders / nosuch";
  auto unknown = service_->CreateKpi(Person("mona"), bad, {}, now_).status();
  EXPECT_THAT(unknown, InvalidNaming("kpi.formula"));
  bad.formula = "orders / hidden";
  auto unreadable = service_->CreateKpi(Person("mona"), bad, {}, now_).status();
  EXPECT_THAT(unreadable, InvalidNaming("kpi.formula"));
  EXPECT_EQ(absl::StrReplaceAll(unknown.message(), {{"nosuch", "X"}}),
            absl::StrReplaceAll(unreadable.message(), {{"hidden", "X"}}));
  // A cycle through an update is refused.
  Kpi loop = Counting("loop");
  loop.formula = "conversion * 2";
  Create(loop);
  Kpi change;
  change.id = "conversion";
  change.formula = "orders / loop";
  EXPECT_THAT(service_->UpdateKpi(Person("mona"), change, {"formula"}, "", now_)
                  .status(),
              InvalidNaming("kpi.formula"));
  // Points of derived KPIs are refused; their value follows the inputs.
  EXPECT_THAT(Write({{"conversion", At(2026, 12, 1), 1, "", ""}}).status(),
              InvalidNaming("points[0].kpi"));
  ASSERT_THAT(Write({{"orders", At(2026, 12, 1, 9), 30, "", ""},
                     {"visits", At(2026, 12, 1, 9), 1000, "", ""},
                     {"visits", At(2026, 12, 2, 9), 200, "", ""},
                     {"orders", At(2026, 11, 5, 9), 3, "", ""},
                     {"visits", At(2026, 11, 5, 9), 0, "", ""}})
                  .status(),
              IsOk());
  auto st = service_->GetStatus(Person("mona"), "conversion", now_);
  ASSERT_THAT(st.status(), IsOk());
  EXPECT_DOUBLE_EQ(*st->value, 30.0 / 1200);
  EXPECT_EQ(st->previous, std::nullopt);  // November: 3 / 0 has no value
  auto twice = service_->GetStatus(Person("mona"), "loop", now_);
  ASSERT_THAT(twice.status(), IsOk());
  EXPECT_DOUBLE_EQ(*twice->value, 2 * 30.0 / 1200);
  // Daily buckets of the derived KPI against a recomputation.
  PointQuery q{
      "conversion", At(2026, 12, 1), At(2026, 12, 3), kMicrosPerDay, "", ""};
  auto series = service_->Query(Person("mona"), q, std::nullopt);
  ASSERT_THAT(series.status(), IsOk());
  EXPECT_DOUBLE_EQ(*(*series)[0].buckets[0].first, 0.03);
  EXPECT_EQ((*series)[0].buckets[1].first, std::nullopt);  // no orders
  // An input of a formula cannot be deleted.
  EXPECT_THAT(service_->DeleteKpi(Person("mona"), "orders", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(service_->DeleteKpi(Person("mona"), "loop", ""), IsOk());
}

TEST_F(MetricsServiceTest, StatusTargetsTrendAndStaleness) {
  Kpi k = Counting("revenue");
  k.targets = {{At(2026, 12, 1), At(2027, 1, 1), 100, 90, 70}};
  Create(k);
  auto st = service_->GetStatus(Person("mona"), "revenue", now_);
  ASSERT_THAT(st.status(), IsOk());
  EXPECT_EQ(st->state, KpiState::kNoData);
  ASSERT_THAT(Write({{"revenue", At(2026, 11, 20), 50, "", ""},
                     {"revenue", At(2026, 12, 2), 80, "", ""}})
                  .status(),
              IsOk());
  st = service_->GetStatus(Person("mona"), "revenue", now_);
  ASSERT_THAT(st.status(), IsOk());
  EXPECT_EQ(st->state, KpiState::kAmber);
  EXPECT_EQ(*st->value, 80);
  EXPECT_EQ(*st->previous, 50);
  EXPECT_EQ(st->trend, Trend::kImproving);
  EXPECT_EQ(st->period_start, At(2026, 12, 1));
  EXPECT_EQ(st->last_point_time, At(2026, 12, 2));
  // A write moves the status at once (the cached one is dropped).
  ASSERT_THAT(Write({{"revenue", At(2026, 12, 3), 15, "", ""}}).status(),
              IsOk());
  st = service_->GetStatus(Person("mona"), "revenue", now_);
  EXPECT_EQ(st->state, KpiState::kGreen);
  // Three days later with no point: stale (cadence one day).
  st = service_->GetStatus(Person("mona"), "revenue", now_ + 3 * kMicrosPerDay);
  EXPECT_EQ(st->state, KpiState::kStale);
  EXPECT_TRUE(st->stale);
}

TEST_F(MetricsServiceTest, UpdateEtagsAndMasks) {
  Kpi made = Create(Counting("nps"));
  Kpi in;
  in.id = "nps";
  in.display_name = "Net promoter score";
  auto up = service_->UpdateKpi(Person("mona"), in, {"display_name"},
                                MetricsService::Etag(made), now_);
  ASSERT_THAT(up.status(), IsOk());
  EXPECT_EQ(up->display_name, "Net promoter score");
  EXPECT_EQ(up->revision, 2);
  EXPECT_THAT(service_
                  ->UpdateKpi(Person("mona"), in, {"display_name"},
                              MetricsService::Etag(made), now_)
                  .status(),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(
      service_->UpdateKpi(Person("mona"), in, {"revision"}, "", now_).status(),
      InvalidNaming("update_mask"));
  EXPECT_THAT(
      service_->UpdateKpi(Person("owen"), in, {"display_name"}, "", now_)
          .status(),
      StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(MetricsServiceTest, DerivedValuesNeedEveryInputReadable) {
  Kpi secret = Counting("salary-cost", "owen");
  secret.visibility = Visibility::kPrivate;
  Create(secret);
  Create(Counting("headcount"));
  // Mona (Owen's manager) reads both and may publish a ratio of them...
  Kpi ratio = Counting("cost-per-head");
  ratio.formula = "salary_cost / headcount";
  Create(ratio);
  ASSERT_THAT(
      Write({{"salary-cost", At(2026, 12, 1), 9000, "", ""}}, Person("owen"))
          .status(),
      IsOk());
  ASSERT_THAT(Write({{"headcount", At(2026, 12, 1), 3, "", ""}}).status(),
              IsOk());
  auto mine = service_->GetStatus(Person("mona"), "cost-per-head", now_);
  ASSERT_THAT(mine.status(), IsOk());
  EXPECT_EQ(*mine->value, 3000);
  // ...but a peer, who may read the derived KPI, gets none of its values:
  // they would reveal the PRIVATE input.
  EXPECT_THAT(service_->GetKpi(Person("pat"), "cost-per-head").status(),
              IsOk());
  EXPECT_THAT(
      service_->GetStatus(Person("pat"), "cost-per-head", now_).status(),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(service_->PeekStatus(Person("pat"), "cost-per-head", now_)
                   .has_value());  // held for mona, not answered to pat
  PointQuery q{
      "cost-per-head", At(2026, 12, 1), At(2026, 12, 2), kMicrosPerDay, "", ""};
  EXPECT_THAT(service_->Query(Person("pat"), q, std::nullopt).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Nor can it be exported: /metrics has no access control.
  Kpi in;
  in.id = "cost-per-head";
  in.exported = true;
  EXPECT_THAT(
      service_->UpdateKpi(Person("mona"), in, {"export"}, "", now_).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("PUBLIC")));
}

TEST_F(MetricsServiceTest, OnlyPublicKpisAreExported) {
  Kpi k = Counting("private-revenue");
  k.visibility = Visibility::kPrivate;
  k.exported = true;
  EXPECT_THAT(service_->CreateKpi(Person("mona"), k, {}, now_).status(),
              InvalidNaming("kpi.export"));
}

TEST_F(MetricsServiceTest, ExportIsBounded) {
  MetricsOptions options;
  options.max_exported_kpis = 1;
  MetricsService bounded(repo_.get(), &org_, options);
  Kpi a = Counting("a");
  a.exported = true;
  ASSERT_THAT(bounded.CreateKpi(Person("mona"), a, {}, now_).status(), IsOk());
  Kpi b = Counting("b");
  b.exported = true;
  EXPECT_THAT(bounded.CreateKpi(Person("mona"), b, {}, now_).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("max_exported_kpis")));
}

}  // namespace
}  // namespace sightline::metrics
