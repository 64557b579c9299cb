// `sightline import-datapoints` as a child process against the real metrics
// service (beside a real people service): a good file is written and read
// back, a file with a bad row sends nothing and names the line, and running
// the same file again writes nothing twice.

#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

namespace mv1 = ::sightline::metrics::v1;
using ::sightline::testing::GrpcOk;
using ::testing::HasSubstr;
using ::testing::Not;

struct CliResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string output;  // stdout and stderr
};

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
  out->set_nanos(0);
}

absl::Time Utc(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

class MetricsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(BinaryPath("SIGHTLINE_METRICS_BINARY").empty())
        << "SIGHTLINE_METRICS_BINARY is not set";
    ASSERT_FALSE(BinaryPath("SIGHTLINE_CLI_BINARY").empty())
        << "SIGHTLINE_CLI_BINARY is not set";
    auto c = PeopleCluster::Start(Db::kSqlite);
    ASSERT_TRUE(c.ok()) << c.status();
    people_ = std::move(*c);
    // The KPIs' owner must exist in the org.
    pv1::SyncPeopleResponse synced;
    ASSERT_THAT(people_->Sync(Full(), {PersonMsg("owner", "")}, &synced),
                GrpcOk());
    auto svc = ServiceProcess::Start(
        people_->dir(), "metrics", BinaryPath("SIGHTLINE_METRICS_BINARY"),
        {"--db=" + people_->dir() + "/metrics.db",
         "--jwt_key_file=" + people_->tokens().secret_file(),
         "--people_address=" + people_->service().address(),
         "--change_poll_interval=50ms", "--shutdown_grace=10s"});
    ASSERT_TRUE(svc.ok()) << svc.status();
    metrics_ = std::move(*svc);
    stub_ = mv1::MetricsService::NewStub(metrics_->Channel());
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!absl::StrContains(metrics_->Log(), "people directory loaded")) {
      ASSERT_LT(absl::Now(), deadline) << "the metrics replica never loaded";
      absl::SleepFor(absl::Milliseconds(50));
    }
    for (const char* id : {"orders", "visits"}) {
      mv1::CreateKpiRequest req;
      req.set_kpi_id(id);
      mv1::Kpi* k = req.mutable_kpi();
      k->set_display_name(id);
      k->set_owner_person(Owner());
      k->set_format(mv1::Kpi::NUMBER);
      k->set_direction(mv1::Kpi::HIGHER_IS_BETTER);
      k->set_aggregation(mv1::Kpi::SUM);
      k->set_period(mv1::Kpi::MONTH);
      k->set_visibility(mv1::PUBLIC);
      k->add_dimension_keys("region");
      k->mutable_cadence()->set_seconds(86400);
      grpc::ClientContext ctx;
      Authorize(&ctx, Token(), absl::Seconds(20));
      mv1::Kpi created;
      ASSERT_THAT(stub_->CreateKpi(&ctx, req, &created), GrpcOk());
    }
  }

  void TearDown() override {
    // Our channel first: the server's shutdown waits on open connections.
    stub_.reset();
    if (metrics_ != nullptr) metrics_->Stop();
    metrics_.reset();
    people_.reset();
  }

  std::string Owner() {
    grpc::ClientContext ctx;
    Authorize(&ctx, people_->AdminToken());
    pv1::LookupPersonRequest req;
    req.set_external_id("owner");
    pv1::Person p;
    EXPECT_THAT(people_->Stub()->LookupPerson(&ctx, req, &p), GrpcOk());
    return p.name();
  }

  // The KPIs' owner: writes their points.
  std::string Token() const {
    return people_->tokens().Mint("owner@example.com", {});
  }

  CliResult Run(std::vector<std::string> args, const std::string& token) {
    ProcessOptions o;
    o.argv = {BinaryPath("SIGHTLINE_CLI_BINARY")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.log_path = absl::StrCat(people_->dir(), "/cli-", ++runs_, ".log");
    o.env["SIGHTLINE_TOKEN"] = token;
    CliResult r;
    auto p = Process::Start(o);
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return r;
    }
    auto status = (*p)->Wait(absl::Seconds(60));
    if (!status.ok()) {
      ADD_FAILURE() << "sightline " << args[0] << ": " << status.status();
      (*p)->Stop(absl::Seconds(1));
      return r;
    }
    if (WIFEXITED(*status)) r.exit_code = WEXITSTATUS(*status);
    r.output = ReadFile(o.log_path);
    return r;
  }

  std::string WriteCsv(const std::string& name, const std::string& text) {
    std::string path = absl::StrCat(people_->dir(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  // Daily sums of `kpi` over November 2020: {value or -1 when empty, count}.
  std::vector<std::pair<double, int64_t>> Daily(const std::string& kpi) {
    mv1::QueryKpiRequest req;
    req.set_kpi(kpi);
    SetTime(Utc(2020, 11, 1), req.mutable_start_time());
    SetTime(Utc(2020, 12, 1), req.mutable_end_time());
    req.mutable_step()->set_seconds(86400);
    grpc::ClientContext ctx;
    Authorize(&ctx, Token(), absl::Seconds(20));
    mv1::QueryKpiResponse resp;
    EXPECT_THAT(stub_->QueryKpi(&ctx, req, &resp), GrpcOk());
    std::vector<std::pair<double, int64_t>> out;
    if (resp.series_size() != 1) {
      ADD_FAILURE() << resp.DebugString();
      return out;
    }
    for (const auto& b : resp.series(0).buckets())
      out.emplace_back(b.has_value() ? b.value() : -1, b.count());
    return out;
  }

  grpc::Status Status(const std::string& kpi, mv1::KpiStatus* out) {
    mv1::GetKpiStatusRequest req;
    req.set_name(kpi);
    grpc::ClientContext ctx;
    Authorize(&ctx, Token(), absl::Seconds(20));
    return stub_->GetKpiStatus(&ctx, req, out);
  }

  // A month of points long past: the current period has none of them.
  static std::string NovemberCsv() {
    std::string csv = "kpi,time,value,dimension,source\n";
    for (int day = 1; day <= 30; ++day) {
      std::string date = absl::StrFormat("2020-11-%02d", day);
      absl::StrAppend(&csv, "kpis/orders,", date, "T10:00:00Z,", day,
                      ",region=emea,shop\n");
      absl::StrAppend(&csv, "visits,", date, ",", 10 * day,
                      ",,\"web, logs\"\n");
    }
    return csv;
  }

  std::unique_ptr<PeopleCluster> people_;
  std::unique_ptr<ServiceProcess> metrics_;
  std::unique_ptr<mv1::MetricsService::Stub> stub_;
  int runs_ = 0;
};

TEST_F(MetricsCliTest, AFileIsWrittenOnceHoweverOftenItIsImported) {
  std::string csv = WriteCsv("november.csv", NovemberCsv());
  const std::string address = metrics_->address();

  CliResult r = Run({"import-datapoints", address, csv}, Token());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("60 data point(s) written"));

  auto orders = Daily("kpis/orders");
  auto visits = Daily("kpis/visits");
  ASSERT_EQ(orders.size(), 30u);
  ASSERT_EQ(visits.size(), 30u);
  for (int day = 1; day <= 30; ++day) {
    EXPECT_EQ(orders[day - 1], std::make_pair(double(day), int64_t{1}))
        << "day " << day;
    EXPECT_EQ(visits[day - 1], std::make_pair(10.0 * day, int64_t{1}))
        << "day " << day;
  }
  // The current month has none of them; the newest point is the file's.
  mv1::KpiStatus status;
  ASSERT_THAT(Status("kpis/orders", &status), GrpcOk());
  EXPECT_FALSE(status.has_value()) << status.DebugString();
  EXPECT_TRUE(status.stale()) << status.DebugString();
  EXPECT_EQ(status.last_point_time().seconds(),
            absl::ToUnixSeconds(Utc(2020, 11, 30) + absl::Hours(10)));

  // The same file again: the server recognises the request; nothing doubles.
  CliResult again = Run({"import-datapoints", address, csv}, Token());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Daily("kpis/orders"), orders);
  EXPECT_EQ(Daily("kpis/visits"), visits);

  // A different file is a different request, and adds up; a point of now
  // is the current period's value.
  absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  std::string more = WriteCsv(
      "more.csv", absl::StrCat("kpi,time,value\n"
                               "orders,2020-11-05T11:00:00Z,100\n"
                               "orders,",
                               absl::FormatTime(absl::RFC3339_full, now,
                                                absl::UTCTimeZone()),
                               ",7\n"));
  CliResult added = Run({"import-datapoints", address, more}, Token());
  ASSERT_EQ(added.exit_code, 0) << added.output;
  EXPECT_THAT(added.output, HasSubstr("2 data point(s) written"));
  auto after = Daily("kpis/orders");
  ASSERT_EQ(after.size(), 30u);
  EXPECT_EQ(after[4], std::make_pair(105.0, int64_t{2}));
  EXPECT_EQ(after[5], orders[5]);
  ASSERT_THAT(Status("kpis/orders", &status), GrpcOk());
  EXPECT_EQ(status.value(), 7) << status.DebugString();
  EXPECT_EQ(status.status(), mv1::KpiStatus::NO_TARGET) << status.DebugString();
  EXPECT_EQ(status.last_point_time().seconds(), absl::ToUnixSeconds(now));
}

TEST_F(MetricsCliTest, AFileLargerThanOneMessageIsOneWrite) {
  // 12,001 points: three messages of the stream, one request.
  std::string csv = "kpi,time,value\n";
  absl::Time start = Utc(2020, 11, 1);
  for (int i = 0; i < 12001; ++i) {
    absl::StrAppend(
        &csv, "visits,",
        absl::FormatTime(absl::RFC3339_full, start + absl::Seconds(i),
                         absl::UTCTimeZone()),
        ",1\n");
  }
  std::string path = WriteCsv("large.csv", csv);
  for (int run = 0; run < 2; ++run) {
    CliResult r =
        Run({"import-datapoints", metrics_->address(), path}, Token());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("12001 data point(s) written"));
    auto visits = Daily("kpis/visits");
    ASSERT_EQ(visits.size(), 30u);
    EXPECT_EQ(visits[0].first, 12001) << "run " << run;
    EXPECT_EQ(visits[1].first, -1) << "run " << run;
  }
  auto metrics = metrics_->ScrapeMetrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(*metrics,
                        "grpc_server_msg_received_total{grpc_method="
                        "\"WriteDataPoints\",grpc_service=\"sightline.metrics."
                        "v1.MetricsService\",grpc_type=\"client_stream\"}"),
            6);
}

TEST_F(MetricsCliTest, ABadRowSendsNothingAndNamesTheLine) {
  std::string text = NovemberCsv();
  // Line 8 (the header is line 1) gets an impossible date; line 12 a word.
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  lines[7] = "kpis/orders,2020-11-31,4,,";
  lines[11] = "visits,2020-11-06,lots,,";
  std::string csv = WriteCsv("bad.csv", absl::StrJoin(lines, "\n"));

  CliResult r = Run({"import-datapoints", metrics_->address(), csv}, Token());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("2 error(s), nothing was sent"));
  EXPECT_THAT(r.output, HasSubstr("line 8 (time): '2020-11-31' is not"));
  EXPECT_THAT(r.output,
              HasSubstr("line 12 (value): 'lots' is not a finite number"));
  EXPECT_THAT(r.output, Not(HasSubstr("line 2 ")));
  // The good rows were not written either, and no write reached the service.
  for (const auto& [value, count] : Daily("kpis/orders")) {
    EXPECT_EQ(count, 0);
  }
  auto metrics = metrics_->ScrapeMetrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(*metrics,
                        "grpc_server_started_total{grpc_method="
                        "\"WriteDataPoints\",grpc_service=\"sightline.metrics."
                        "v1.MetricsService\",grpc_type=\"client_stream\"}"),
            0);
}

TEST_F(MetricsCliTest, PointsTheServerRefusesAreNamedByLine) {
  // Each row is well formed; the server knows no KPI `nope` and no `team`
  // dimension key.
  std::string csv = WriteCsv("refused.csv",
                             "kpi,time,value,dimension\n"
                             "orders,2020-11-01,1,\n"
                             "nope,2020-11-02,1,\n"
                             "orders,2020-11-03,1,team=x\n");
  CliResult r = Run({"import-datapoints", metrics_->address(), csv}, Token());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("the import was refused; nothing was written"));
  EXPECT_THAT(r.output, HasSubstr("InvalidArgument"));
  EXPECT_THAT(r.output,
              HasSubstr("line 3: points[1].kpi: unknown KPI kpis/nope"));
  EXPECT_THAT(r.output, HasSubstr("line 4: points[2].dimension"));
  for (const auto& [value, count] : Daily("kpis/orders")) {
    EXPECT_EQ(count, 0);
  }

  // Without a token nothing is written either.
  std::string good =
      WriteCsv("good.csv", "kpi,time,value\norders,2020-11-01,1\n");
  CliResult anonymous =
      Run({"import-datapoints", metrics_->address(), good}, "");
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.output;
  EXPECT_THAT(anonymous.output, HasSubstr("Unauthenticated"));
  for (const auto& [value, count] : Daily("kpis/orders")) {
    EXPECT_EQ(count, 0);
  }
}

}  // namespace
}  // namespace sightline::testing
