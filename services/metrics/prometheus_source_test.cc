// Prometheus-sourced KPIs against a real Prometheus on loopback (scraping
// itself), the real SQL repository and the service's rules.

#include "services/metrics/prometheus_source.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/org/fake_org_service.h"
#include "lib/storage/database.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/metrics/sql_repository.h"

namespace sightline::metrics {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;

class PrometheusSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("sightline-promsource");
    ASSERT_FALSE(dir_.empty());
    auto db = testing::OpenMigratedSqlite(dir_, "metrics", MetricsMigrations());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    repo_ = NewSqlRepository(db_.get());
    MetricsOptions options;
    options.prometheus_configured = true;
    service_ = std::make_unique<MetricsService>(repo_.get(), &org_, options);
  }
  void TearDown() override {
    service_.reset();
    repo_.reset();
    db_.reset();
    testing::RemoveTree(dir_);
  }

  Kpi FromQuery(const std::string& id, const std::string& query) {
    Kpi k;
    k.id = id;
    k.display_name = id;
    k.owner_person_id = "mona";
    k.aggregation = Aggregation::kLast;
    k.period = Period::kDay;
    k.cadence = 60 * int64_t{1000000};
    k.prom_query = query;
    auto made = service_->CreateKpi(Caller{"mona", false, false}, k, {},
                                    storage::NowMicros());
    EXPECT_THAT(made.status(), IsOk());
    return k;
  }

  std::string dir_;
  org::FakeOrgService org_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<KpiRepository> repo_;
  std::unique_ptr<MetricsService> service_;
};

TEST_F(PrometheusSourceTest, WritesTheSampleOrKeepsTheErrorNeverAZero) {
  testing::PrometheusServer prometheus(dir_);
  ASSERT_THAT(prometheus.Start(), IsOk());
  PrometheusClient client({.base_url = prometheus.url(),
                           .timeout = absl::Seconds(5),
                           .bearer_token = "",
                           .max_response_bytes = size_t{4} << 20});
  PrometheusSource source(service_.get(), repo_.get(), &client);
  const Caller mona{"mona", false, false};

  Kpi up = FromQuery("availability", "sum(up{job=\"self\"})");
  Kpi none = FromQuery("missing", "absent_metric_xyz");
  // Prometheus needs a scrape before `up` has a sample.
  int64_t now = 0;
  absl::StatusOr<StatusView> st = absl::UnknownError("not asked");
  for (int i = 0; i < 100; ++i) {
    now = storage::NowMicros();
    source.Tick(now);
    st = service_->GetStatus(mona, "availability", now);
    if (st.ok() && st->value) break;
    absl::SleepFor(absl::Milliseconds(300));
  }
  ASSERT_THAT(st.status(), IsOk());
  ASSERT_TRUE(st->value.has_value()) << st->source_error;
  EXPECT_EQ(*st->value, 1);
  EXPECT_EQ(st->source_error, "");
  EXPECT_EQ(st->last_point_time, PrometheusSource::AlignedTime(up, now));

  // No sample: nothing written, STALE with Prometheus' answer.
  auto missing = service_->GetStatus(mona, "missing", now);
  ASSERT_THAT(missing.status(), IsOk());
  EXPECT_EQ(missing->state, KpiState::kStale);
  EXPECT_THAT(missing->source_error, HasSubstr("no sample"));
  EXPECT_FALSE(missing->value.has_value());
  auto last = repo_->LastPointTime("missing");
  ASSERT_THAT(last.status(), IsOk());
  EXPECT_EQ(*last, 0);

  // Prometheus down: the next evaluation fails, the KPI turns STALE with the
  // error, and no point (no zero) is written for it.
  prometheus.Stop();
  int64_t later = now + 2 * up.cadence;
  source.Tick(later);
  auto down = service_->GetStatus(mona, "availability", later);
  ASSERT_THAT(down.status(), IsOk());
  EXPECT_EQ(down->state, KpiState::kStale);
  EXPECT_THAT(down->source_error, HasSubstr("UNAVAILABLE"));
  PointQuery q{
      "availability",
      PeriodOf(Period::kDay, now).first,
      PeriodOf(Period::kDay, later).second,
      PeriodOf(Period::kDay, later).second - PeriodOf(Period::kDay, now).first,
      "",
      ""};
  auto series = service_->Query(mona, q, Aggregation::kCount);
  ASSERT_THAT(series.status(), IsOk());
  EXPECT_EQ((*series)[0].buckets[0].second, 1);  // the one real sample
  auto min = service_->Query(mona, q, Aggregation::kMin);
  EXPECT_EQ(*(*min)[0].buckets[0].first, 1);
}

TEST_F(PrometheusSourceTest, QueryKpisNeedAConfiguredPrometheus) {
  MetricsService unconfigured(repo_.get(), &org_, MetricsOptions{});
  Kpi k;
  k.id = "slo";
  k.display_name = "SLO";
  k.owner_person_id = "mona";
  k.prom_query = "up";
  EXPECT_THAT(
      unconfigured
          .CreateKpi(Caller{"mona", false, false}, k, {}, storage::NowMicros())
          .status(),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("--prometheus_url")));
}

}  // namespace
}  // namespace sightline::metrics
