// A Prometheus-sourced KPI end to end: the real metrics binary reads its
// points from a real Prometheus that scrapes the metrics service's own
// /metrics; when Prometheus has no sample or is gone, the KPI turns STALE
// with the error and no point is written.

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"
#include "tests/metrics_cluster.h"

namespace sightline::testing {
namespace {

using S = mv1::MetricsService::Stub;
using ::testing::HasSubstr;

mv1::CreateKpiRequest FromQuery(const std::string& id, const std::string& owner,
                                const std::string& query) {
  mv1::CreateKpiRequest req;
  req.set_kpi_id(id);
  auto* k = req.mutable_kpi();
  k->set_display_name(id);
  k->set_owner_person(owner);
  k->set_aggregation(mv1::Kpi::LAST);
  k->set_period(mv1::Kpi::DAY);
  k->mutable_cadence()->set_seconds(60);
  k->mutable_prometheus()->set_query(query);
  return req;
}

TEST(MetricsPrometheusIT,
     KpiFollowsTheSuitesOwnMetricsAndStaysHonestWhenItCannot) {
  const std::string dir = MakeTempDir("sightline-prom-it");
  ASSERT_FALSE(dir.empty());
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { RemoveTree(dir); }
  } remove{dir};
  // Prometheus scrapes the metrics service's /metrics port, chosen here so
  // that both can be told about each other before either starts.
  const int metrics_port = FreePort();
  PrometheusServer prometheus(dir);
  ASSERT_THAT(prometheus.Start({absl::StrCat("127.0.0.1:", metrics_port)}),
              IsOk());
  auto started = MetricsCluster::Start(
      Db::kSqlite, {absl::StrCat("--metrics_address=127.0.0.1:", metrics_port),
                    "--prometheus_url=" + prometheus.url(),
                    "--prometheus_poll_interval=1s"});
  ASSERT_THAT(started.status(), IsOk());
  auto& c = **started;
  const std::string owner = c.Person("mgr-eng");
  const std::string token = c.Token("mgr-eng");

  // The service's own count of successful CreateKpi calls, as Prometheus
  // scraped it: at least the two creates below once a scrape saw them.
  mv1::Kpi made;
  ASSERT_THAT(
      c.Call(&S::CreateKpi, token,
             FromQuery("creates", owner,
                       "sum(grpc_server_handled_total{job=\"sightline\","
                       "grpc_method=\"CreateKpi\",grpc_code=\"OK\"})"),
             &made),
      GrpcOk());
  ASSERT_THAT(c.Call(&S::CreateKpi, token,
                     FromQuery("missing", owner, "absent_metric_xyz"), &made),
              GrpcOk());

  mv1::GetKpiStatusRequest get;
  get.set_name("kpis/creates");
  mv1::KpiStatus status;
  const absl::Time deadline = absl::Now() + absl::Seconds(45);
  bool seen = false;
  while (absl::Now() < deadline) {
    ASSERT_THAT(c.Call(&S::GetKpiStatus, token, get, &status), GrpcOk());
    if (status.has_value() && status.value() >= 2) {
      seen = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_TRUE(seen) << status.DebugString();
  EXPECT_EQ(status.source_error(), "");
  EXPECT_EQ(status.status(), mv1::KpiStatus::NO_TARGET);

  // No sample: STALE with Prometheus' answer, no value, no point.
  get.set_name("kpis/missing");
  ASSERT_THAT(c.Call(&S::GetKpiStatus, token, get, &status), GrpcOk());
  EXPECT_EQ(status.status(), mv1::KpiStatus::STALE);
  EXPECT_THAT(status.source_error(), HasSubstr("no sample"));
  EXPECT_FALSE(status.has_value());
  EXPECT_FALSE(status.has_last_point_time());

  // Prometheus gone: a new query KPI is STALE with UNAVAILABLE, never 0.
  prometheus.Stop();
  ASSERT_THAT(c.Call(&S::CreateKpi, token,
                     FromQuery("after", owner, "vector(0)"), &made),
              GrpcOk());
  get.set_name("kpis/after");
  seen = false;
  const absl::Time later = absl::Now() + absl::Seconds(30);
  while (absl::Now() < later) {
    ASSERT_THAT(c.Call(&S::GetKpiStatus, token, get, &status), GrpcOk());
    if (!status.source_error().empty()) {
      seen = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_TRUE(seen) << status.DebugString();
  EXPECT_EQ(status.status(), mv1::KpiStatus::STALE);
  EXPECT_THAT(status.source_error(), HasSubstr("UNAVAILABLE"));
  EXPECT_FALSE(status.has_value());
}

}  // namespace
}  // namespace sightline::testing
