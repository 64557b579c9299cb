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
#include "services/metrics/sql_repository.h"

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

// A team's KPI stores '' as its owner person: asking for people's KPIs must
// not bring in every team's KPIs, nor one team's the other's.
TEST_F(MetricsServiceTest, KpisOwnedByMatchesOnlyTheOwnersAsked) {
  Kpi mine = Counting("mine", "mona");
  Kpi theirs = Counting("theirs", "owen");
  Kpi team_a = Counting("team-a", "");
  team_a.owner_team_id = "a";
  Kpi team_b = Counting("team-b", "");
  team_b.owner_team_id = "b";
  for (const Kpi& k : {mine, theirs, team_a, team_b}) {
    ASSERT_TRUE(repo_->InsertKpi(k, {}).ok()) << k.id;
  }
  auto ids = [&](const std::vector<std::string>& people,
                 const std::string& team) {
    std::vector<std::string> out;
    auto got = repo_->KpisOwnedBy(people, team);
    EXPECT_TRUE(got.ok()) << got.status();
    if (got.ok()) {
      for (const auto& k : *got) out.push_back(k.id);
    }
    return out;
  };
  EXPECT_THAT(ids({"mona"}, ""), ::testing::ElementsAre("mine"));
  EXPECT_THAT(ids({}, "a"), ::testing::ElementsAre("team-a"));
  EXPECT_THAT(ids({"mona", "owen"}, "b"),
              ::testing::ElementsAre("mine", "team-b", "theirs"));
  EXPECT_THAT(ids({"nobody"}, ""), ::testing::IsEmpty());
}

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

// ---- scorecards

// The goals and feedback services as the scorecard sees them: canned answers
// or a failure, and what each call was given.
class FakeSources : public ScorecardSources {
 public:
  absl::StatusOr<GoalsInput> Goals(const OnBehalf& who,
                                   const ScorecardSubject& subject) override {
    goals_calls.push_back({who.authorization, subject});
    return goals;
  }
  absl::StatusOr<FeedbackInput> Feedback(const OnBehalf& who,
                                         const ScorecardSubject& subject,
                                         const std::string& start_date,
                                         const std::string& end_date) override {
    absl::MutexLock lock(&mu);
    feedback_calls.push_back({who.authorization, subject});
    feedback_dates = {start_date, end_date};
    return feedback;
  }

  absl::StatusOr<GoalsInput> goals = GoalsInput{};
  absl::StatusOr<FeedbackInput> feedback = FeedbackInput{};
  std::vector<std::pair<std::string, ScorecardSubject>> goals_calls;
  absl::Mutex mu;
  std::vector<std::pair<std::string, ScorecardSubject>> feedback_calls;
  std::pair<std::string, std::string> feedback_dates;
};

class ScorecardTest : public MetricsServiceTest {
 protected:
  void SetUp() override {
    MetricsServiceTest::SetUp();
    org_.team_members["platform"] = {"owen", "pat"};
    MetricsOptions options;
    options.scorecard_sources = &sources_;
    service_ = std::make_unique<MetricsService>(repo_.get(), &org_, options);
    who_.authorization = "Bearer caller-token";
    GoalFact a;
    a.id = "g1";
    a.cycle_id = "h2";
    a.stage = GoalStage::kActive;
    a.progress = 0.5;
    a.health = GoalHealth::kOnTrack;
    GoalFact b = a;
    b.id = "g2";
    b.progress = 0.25;
    b.health = GoalHealth::kOffTrack;
    sources_.goals =
        GoalsInput{{a, b}, {{"h2", "H2", "2026-07-01", "2026-12-31", false}}};
    FeedbackInput f;
    f.total = 3;
    f.praise = 2;
    f.observation = 1;
    f.requests_asked = 4;
    f.requests_answered = 2;
    sources_.feedback = f;
  }

  // A KPI with a target for December 2026 (100, amber threshold 90, red
  // 70) and one point of `value`: GREEN from 90, AMBER from 70, RED below.
  void KpiIn(const std::string& id, const std::string& person,
             const std::string& team, Visibility visibility,
             Perspective perspective, double value) {
    Kpi k = Counting(id, person);
    k.owner_team_id = team;
    k.visibility = visibility;
    k.perspective = perspective;
    k.targets = {{At(2026, 12, 1), At(2027, 1, 1), 100, 90, 70}};
    Create(k, kService);
    ASSERT_THAT(
        Write({{id, At(2026, 12, 3, 9), value, "", ""}}, kService).status(),
        IsOk());
  }

  absl::StatusOr<ScorecardView> Card(const Caller& as,
                                     const ScorecardSubject& subject) {
    return service_->GetScorecard(as, subject, At(2026, 12, 1), At(2027, 1, 1),
                                  who_, now_);
  }

  FakeSources sources_;
  OnBehalf who_;
};

TEST_F(ScorecardTest, WhoMayAskForWhom) {
  const ScorecardSubject owen{"owen", ""};
  for (const Caller& c :
       {Person("owen"), Person("mona"), Person("ceo"), kHr, kService}) {
    EXPECT_THAT(Card(c, owen).status(), IsOk()) << c.person_id;
  }
  // A peer and someone who left may not; nor someone outside the chain.
  for (const Caller& c : {Person("pat"), Person("gone"), Person("leo")}) {
    EXPECT_THAT(Card(c, owen).status(),
                StatusIs(absl::StatusCode::kPermissionDenied))
        << c.person_id;
  }
  // A team: its lead and the lead's managers, not its members.
  const ScorecardSubject platform{"", "platform"};
  for (const Caller& c : {Person("leo"), Person("vic"), Person("ceo"), kHr}) {
    EXPECT_THAT(Card(c, platform).status(), IsOk()) << c.person_id;
  }
  for (const Caller& c : {Person("owen"), Person("mona")}) {
    EXPECT_THAT(Card(c, platform).status(),
                StatusIs(absl::StatusCode::kPermissionDenied))
        << c.person_id;
  }
  // A team without a lead: only hr_admin and services.
  EXPECT_THAT(Card(Person("vp_eng"), {"", "orphans"}).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Card(kHr, {"", "orphans"}).status(), IsOk());
  // Unknown subjects are NOT_FOUND, for everyone.
  EXPECT_THAT(
      Card(kHr, {"nobody", ""}).status(),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("people/nobody")));
  EXPECT_THAT(
      Card(Person("pat"), {"", "nowhere"}).status(),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("teams/nowhere")));
  // Nobody reached the other services for a refused call.
  const size_t allowed = 5 + 4 + 1;
  EXPECT_EQ(sources_.goals_calls.size(), allowed);
}

TEST_F(ScorecardTest, EndBeforeStartNamesPeriodEnd) {
  EXPECT_THAT(service_
                  ->GetScorecard(kHr, {"owen", ""}, At(2026, 12, 2),
                                 At(2026, 12, 1), who_, now_)
                  .status(),
              InvalidNaming("period_end"));
  EXPECT_TRUE(sources_.goals_calls.empty());
}

TEST_F(ScorecardTest, TeamScorecardCountsWhatTheCallerMayRead) {
  // The team's own KPI and its members': leo leads platform from arch, so
  // he is not in owen's chain and owen's PRIVATE KPI is not his to read.
  KpiIn("uptime", "", "platform", Visibility::kTeam, Perspective::kCustomer,
        120);  // GREEN
  KpiIn("owen-cost", "owen", "", Visibility::kPrivate, Perspective::kFinancial,
        10);  // RED, hidden from leo
  KpiIn("pat-lead-time", "pat", "", Visibility::kTeam,
        Perspective::kInternalProcess, 80);  // AMBER
  KpiIn("sales-revenue", "vp_sales", "", Visibility::kPublic,
        Perspective::kFinancial, 150);  // not the team's

  auto card = Card(Person("leo"), {"", "platform"});
  ASSERT_THAT(card.status(), IsOk());
  EXPECT_EQ(card->kpi_count, 2);
  ASSERT_EQ(card->perspectives.size(), 4u);
  EXPECT_TRUE(card->perspectives[0].kpis.empty());  // FINANCIAL
  EXPECT_FALSE(card->perspectives[0].score.has_value());
  ASSERT_EQ(card->perspectives[1].kpis.size(), 1u);  // CUSTOMER
  EXPECT_EQ(card->perspectives[1].kpis[0].first.id, "uptime");
  EXPECT_EQ(card->perspectives[1].kpis[0].second.state, KpiState::kGreen);
  EXPECT_DOUBLE_EQ(*card->perspectives[1].score, 1.0);
  ASSERT_EQ(card->perspectives[2].kpis.size(), 1u);  // INTERNAL_PROCESS
  EXPECT_DOUBLE_EQ(*card->perspectives[2].score, 0.5);

  // Goals and feedback as their services answered, asked with the caller's
  // own credentials and the period's dates.
  ASSERT_EQ(sources_.goals_calls.size(), 1u);
  EXPECT_EQ(sources_.goals_calls[0].first, "Bearer caller-token");
  EXPECT_EQ(sources_.goals_calls[0].second.team_id, "platform");
  ASSERT_EQ(sources_.feedback_calls.size(), 1u);
  EXPECT_EQ(sources_.feedback_calls[0].first, "Bearer caller-token");
  EXPECT_EQ(sources_.feedback_dates.first, "2026-12-01");
  EXPECT_EQ(sources_.feedback_dates.second, "2026-12-31");
  EXPECT_EQ(card->goals.goal_count, 2);
  EXPECT_DOUBLE_EQ(card->goals.mean_progress, 0.375);
  EXPECT_DOUBLE_EQ(*card->goals.on_track_share, 0.5);
  EXPECT_DOUBLE_EQ(*card->feedback.score, 0.5);

  // Default weights: goals 0.3, feedback 0.1, customer and internal process
  // 0.15 each; financial and learning have no score and drop out.
  ASSERT_TRUE(card->overall.has_value());
  EXPECT_NEAR(*card->overall,
              (0.3 * 0.375 + 0.1 * 0.5 + 0.15 * 1.0 + 0.15 * 0.5) / 0.7, 1e-12);
  EXPECT_TRUE(card->missing_parts.empty());

  // Owen's manager's manager sees the PRIVATE KPI too.
  auto by_ceo = Card(Person("ceo"), {"", "platform"});
  ASSERT_THAT(by_ceo.status(), IsOk());
  EXPECT_EQ(by_ceo->kpi_count, 3);
  EXPECT_DOUBLE_EQ(*by_ceo->perspectives[0].score, 0.0);
}

TEST_F(ScorecardTest, AMissingPartLeavesNoOverallScore) {
  KpiIn("uptime", "", "platform", Visibility::kPublic, Perspective::kCustomer,
        120);
  sources_.goals = absl::UnavailableError("goals: connection refused");
  auto card = Card(kHr, {"", "platform"});
  ASSERT_THAT(card.status(), IsOk());
  EXPECT_EQ(card->goals.state, PartState::kMissing);
  EXPECT_THAT(card->goals.reason, HasSubstr("connection refused"));
  EXPECT_EQ(card->goals.goal_count, 0);
  EXPECT_FALSE(card->goals.score.has_value());
  EXPECT_THAT(card->missing_parts, ElementsAre("goals"));
  EXPECT_FALSE(card->overall.has_value());
  // The parts that could be computed are still there.
  EXPECT_EQ(card->feedback.state, PartState::kComplete);
  EXPECT_EQ(card->kpi_count, 1);

  sources_.goals = GoalsInput{};
  sources_.feedback = absl::UnavailableError("feedback: deadline exceeded");
  card = Card(kHr, {"", "platform"});
  ASSERT_THAT(card.status(), IsOk());
  EXPECT_THAT(card->missing_parts, ElementsAre("feedback"));
  EXPECT_EQ(card->feedback.state, PartState::kMissing);
  EXPECT_FALSE(card->overall.has_value());

  // With feedback weighing nothing, its absence takes nothing away.
  MetricsOptions options;
  options.scorecard_sources = &sources_;
  options.scorecard_weights =
      *ParseScorecardWeights("goals=1,customer=1", "--scorecard_weights");
  service_ = std::make_unique<MetricsService>(repo_.get(), &org_, options);
  card = Card(kHr, {"", "platform"});
  ASSERT_THAT(card.status(), IsOk());
  EXPECT_THAT(card->missing_parts, ElementsAre("feedback"));
  ASSERT_TRUE(card->overall.has_value());
  EXPECT_DOUBLE_EQ(*card->overall, 1.0);  // goals: no data; customer: GREEN
}

TEST_F(ScorecardTest, WithheldFeedbackIsNotScored) {
  FeedbackInput f;
  f.withheld = true;
  f.withheld_reason = "fewer than 3 distinct authors";
  sources_.feedback = f;
  auto card = Card(kHr, {"owen", ""});
  ASSERT_THAT(card.status(), IsOk());
  EXPECT_EQ(card->feedback.state, PartState::kWithheld);
  EXPECT_FALSE(card->feedback.score.has_value());
  EXPECT_TRUE(card->missing_parts.empty());
  ASSERT_TRUE(card->overall.has_value());
  EXPECT_DOUBLE_EQ(*card->overall, 0.375);  // goals alone
}

TEST_F(ScorecardTest, WithoutSourcesBothPartsAreMissing) {
  service_ =
      std::make_unique<MetricsService>(repo_.get(), &org_, MetricsOptions{});
  auto card = Card(kService, {"owen", ""});
  ASSERT_THAT(card.status(), IsOk());
  EXPECT_THAT(card->missing_parts, ElementsAre("goals", "feedback"));
  EXPECT_THAT(card->goals.reason, HasSubstr("--goals_address"));
  EXPECT_FALSE(card->overall.has_value());
}
}  // namespace
}  // namespace sightline::metrics
