// The metrics service over gRPC against the real binaries (people, metrics),
// Redis, and SQLite or PostgreSQL: KPIs, ingestion, queries, formulas,
// visibility, Watch, /metrics, a SIGKILL during ingestion and a database
// outage.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/metrics_cluster.h"

namespace sightline::testing {
namespace {

using google::protobuf::util::TimeUtil;
using S = mv1::MetricsService::Stub;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr int64_t kSecond = 1000000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }
// Midnight UTC today.
int64_t Today() { return NowMicros() / kDay * kDay; }

google::protobuf::Timestamp Ts(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}
int64_t Us(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

mv1::Kpi KpiMsg(const std::string& display_name, const std::string& owner,
                mv1::Kpi::Aggregation aggregation = mv1::Kpi::SUM,
                mv1::Visibility visibility = mv1::PUBLIC) {
  mv1::Kpi k;
  k.set_display_name(display_name);
  k.set_owner_person(owner);
  k.set_aggregation(aggregation);
  k.set_period(mv1::Kpi::DAY);
  k.set_visibility(visibility);
  k.set_direction(mv1::Kpi::HIGHER_IS_BETTER);
  k.set_perspective(mv1::Kpi::CUSTOMER);
  return k;
}

mv1::DataPoint Pt(const std::string& kpi_id, int64_t time, double value,
                  const std::string& dimension = "") {
  mv1::DataPoint p;
  p.set_kpi(absl::StrCat("kpis/", kpi_id));
  *p.mutable_time() = Ts(time);
  p.set_value(value);
  p.set_dimension(dimension);
  p.set_source("metrics-it");
  return p;
}

// What the test expects of one bucket, recomputed from the points it sent.
struct Fold {
  int64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  int64_t last_time = std::numeric_limits<int64_t>::min();
  double last = 0;
  void Add(int64_t t, double v) {
    ++count;
    sum += v;
    min = std::min(min, v);
    max = std::max(max, v);
    if (t >= last_time) {
      last_time = t;
      last = v;
    }
  }
};

// A fixture whose tests share one cluster per database, started on first use.
class SharedCluster {
 protected:
  static MetricsCluster* ClusterFor(Db db) {
    if (clusters_ == nullptr)
      clusters_ = new std::map<Db, std::unique_ptr<MetricsCluster>>();
    auto& c = (*clusters_)[db];
    if (c == nullptr) {
      auto started = MetricsCluster::Start(db, {"--metrics_refresh=1s"});
      if (!started.ok()) {
        ADD_FAILURE() << started.status();
        return nullptr;
      }
      c = std::move(*started);
    }
    return c.get();
  }
  static void StopClusters() {
    delete clusters_;
    clusters_ = nullptr;
  }

 private:
  static std::map<Db, std::unique_ptr<MetricsCluster>>* clusters_;
};
std::map<Db, std::unique_ptr<MetricsCluster>>* SharedCluster::clusters_ =
    nullptr;

class MetricsIT : public SharedCluster, public ::testing::TestWithParam<Db> {
 protected:
  static void TearDownTestSuite() { StopClusters(); }
  void SetUp() override {
    c_ = ClusterFor(GetParam());
    ASSERT_NE(c_, nullptr);
  }

  grpc::Status Create(const std::string& as, const mv1::Kpi& kpi,
                      const std::string& kpi_id, mv1::Kpi* out,
                      const std::string& request_id = "") {
    mv1::CreateKpiRequest req;
    *req.mutable_kpi() = kpi;
    req.set_kpi_id(kpi_id);
    req.set_request_id(request_id);
    return c_->Call(&S::CreateKpi, Tok(as), req, out);
  }
  grpc::Status Get(const std::string& as, const std::string& id,
                   mv1::Kpi* out) {
    mv1::GetKpiRequest req;
    req.set_name(absl::StrCat("kpis/", id));
    return c_->Call(&S::GetKpi, Tok(as), req, out);
  }
  grpc::Status Status(const std::string& as, const std::string& id,
                      mv1::KpiStatus* out) {
    mv1::GetKpiStatusRequest req;
    req.set_name(absl::StrCat("kpis/", id));
    return c_->Call(&S::GetKpiStatus, Tok(as), req, out);
  }
  grpc::Status Write(const std::string& as,
                     const std::vector<mv1::DataPoint>& points,
                     mv1::WriteDataPointsResponse* out,
                     const std::string& request_id = "") {
    mv1::BatchWriteDataPointsRequest req;
    req.set_request_id(request_id);
    for (const auto& p : points) *req.add_points() = p;
    return c_->Call(&S::BatchWriteDataPoints, Tok(as), req, out);
  }
  // WriteDataPoints with `messages` as the stream's messages.
  grpc::Status StreamWrite(
      const std::string& as,
      const std::vector<std::vector<mv1::DataPoint>>& messages,
      mv1::WriteDataPointsResponse* out, const std::string& request_id = "") {
    grpc::ClientContext ctx;
    Authorize(&ctx, Tok(as));
    auto writer = c_->stub()->WriteDataPoints(&ctx, out);
    bool first = true;
    for (const auto& m : messages) {
      mv1::WriteDataPointsRequest req;
      if (first) req.set_request_id(request_id);
      first = false;
      for (const auto& p : m) *req.add_points() = p;
      if (!writer->Write(req)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }
  grpc::Status Query(
      const std::string& as, const std::string& id, int64_t start, int64_t end,
      int64_t step, mv1::QueryKpiResponse* out,
      mv1::Kpi::Aggregation aggregation = mv1::Kpi::AGGREGATION_UNSPECIFIED,
      const std::string& group_by = "", const std::string& dimension = "") {
    mv1::QueryKpiRequest req;
    req.set_kpi(absl::StrCat("kpis/", id));
    *req.mutable_start_time() = Ts(start);
    *req.mutable_end_time() = Ts(end);
    *req.mutable_step() = TimeUtil::MicrosecondsToDuration(step);
    req.set_aggregation(aggregation);
    req.set_group_by(group_by);
    req.set_dimension(dimension);
    return c_->Call(&S::QueryKpi, Tok(as), req, out);
  }
  // Points of the KPI over [start, end) (one bucket), or -1 on error.
  int64_t CountOf(const std::string& id, int64_t start, int64_t end) {
    mv1::QueryKpiResponse r;
    auto st =
        Query("service", id, start, end, end - start, &r, mv1::Kpi::COUNT);
    EXPECT_THAT(st, GrpcOk());
    if (!st.ok() || r.series_size() != 1 || r.series(0).buckets_size() != 1)
      return -1;
    return r.series(0).buckets(0).count();
  }
  std::vector<std::string> Listed(const std::string& as,
                                  const std::string& owner = "") {
    std::vector<std::string> out;
    mv1::ListKpisRequest req;
    req.set_owner(owner);
    req.set_page_size(2);
    for (int page = 0; page < 200; ++page) {
      mv1::ListKpisResponse resp;
      auto st = c_->Call(&S::ListKpis, Tok(as), req, &resp);
      EXPECT_THAT(st, GrpcOk()) << as;
      if (!st.ok()) break;
      for (const auto& k : resp.kpis()) out.push_back(k.name());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  }
  // "service" is a service principal; anything else a person of the org.
  std::string Tok(const std::string& as) const {
    return as == "service" ? c_->ServiceToken() : c_->Token(as);
  }

  MetricsCluster* c_ = nullptr;
};

TEST_P(MetricsIT, KpiRoundTripWithEtagsAndRetries) {
  mv1::Kpi made;
  auto in = KpiMsg("Revenue", c_->Person("mgr-eng"));
  in.set_description("Booked revenue");
  in.set_unit("EUR");
  in.add_dimension_keys("region");
  *in.mutable_cadence() = TimeUtil::SecondsToDuration(3600);
  ASSERT_THAT(Create("mgr-eng", in, "crud-revenue", &made, "create-crud-1"),
              GrpcOk());
  EXPECT_EQ(made.name(), "kpis/crud-revenue");
  EXPECT_EQ(made.owner_person(), c_->Person("mgr-eng"));
  EXPECT_EQ(made.revision(), 1);
  EXPECT_FALSE(made.etag().empty());
  EXPECT_THAT(made.dimension_keys(), ElementsAre("region"));
  EXPECT_EQ(made.cadence().seconds(), 3600);

  // A retry with the same request_id answers the first KPI; the same id for
  // another request is refused, and so is a taken kpi_id.
  mv1::Kpi again;
  ASSERT_THAT(Create("mgr-eng", in, "crud-revenue", &again, "create-crud-1"),
              GrpcOk());
  EXPECT_EQ(again.SerializeAsString(), made.SerializeAsString());
  auto other = in;
  other.set_display_name("Something else");
  auto reused = Create("mgr-eng", other, "crud-other", &again, "create-crud-1");
  EXPECT_THAT(reused, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(reused), Contains("request_id"));
  EXPECT_THAT(Create("mgr-eng", in, "crud-revenue", &again),
              GrpcStatusIs(grpc::StatusCode::ALREADY_EXISTS));

  mv1::Kpi got;
  ASSERT_THAT(Get("ic-eng-1", "crud-revenue", &got), GrpcOk());
  EXPECT_EQ(got.SerializeAsString(), made.SerializeAsString());
  EXPECT_THAT(Listed("ic-sales-1"), Contains("kpis/crud-revenue"));
  EXPECT_THAT(Listed("ic-sales-1", c_->Person("mgr-eng")),
              Contains("kpis/crud-revenue"));
  EXPECT_THAT(Listed("ic-sales-1", c_->Person("mgr-sales")),
              Not(Contains("kpis/crud-revenue")));

  mv1::UpdateKpiRequest up;
  up.mutable_kpi()->set_name(made.name());
  up.mutable_kpi()->set_display_name("Net revenue");
  up.mutable_kpi()->set_etag(made.etag());
  up.mutable_update_mask()->add_paths("display_name");
  mv1::Kpi updated;
  ASSERT_THAT(c_->Call(&S::UpdateKpi, c_->Token("mgr-eng"), up, &updated),
              GrpcOk());
  EXPECT_EQ(updated.display_name(), "Net revenue");
  EXPECT_EQ(updated.description(), "Booked revenue");  // not in the mask
  EXPECT_EQ(updated.revision(), 2);
  EXPECT_NE(updated.etag(), made.etag());
  // The stale etag loses, and changes nothing.
  up.mutable_kpi()->set_display_name("Gross revenue");
  EXPECT_THAT(c_->Call(&S::UpdateKpi, c_->Token("mgr-eng"), up, &got),
              GrpcStatusIs(grpc::StatusCode::ABORTED));
  // Only the owner's chain edits: a peer reads it but may not change it.
  up.mutable_kpi()->set_etag(updated.etag());
  EXPECT_THAT(c_->Call(&S::UpdateKpi, c_->Token("mgr-sales"), up, &got),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  ASSERT_THAT(Get("mgr-eng", "crud-revenue", &got), GrpcOk());
  EXPECT_EQ(got.display_name(), "Net revenue");
  EXPECT_EQ(got.revision(), 2);

  mv1::DeleteKpiRequest del;
  del.set_name(made.name());
  del.set_etag(made.etag());
  google::protobuf::Empty empty;
  EXPECT_THAT(c_->Call(&S::DeleteKpi, c_->Token("mgr-eng"), del, &empty),
              GrpcStatusIs(grpc::StatusCode::ABORTED));
  del.set_etag(updated.etag());
  ASSERT_THAT(c_->Call(&S::DeleteKpi, c_->Token("mgr-eng"), del, &empty),
              GrpcOk());
  EXPECT_THAT(Get("mgr-eng", "crud-revenue", &got),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Listed("mgr-eng"), Not(Contains("kpis/crud-revenue")));
  EXPECT_THAT(c_->Call(&S::DeleteKpi, c_->Token("mgr-eng"), del, &empty),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_P(MetricsIT, BadKpisAreInvalidArgumentNamingTheField) {
  struct Case {
    std::string what;
    std::function<void(mv1::CreateKpiRequest*)> edit;
    std::string field;
  };
  std::vector<Case> cases = {
      {"no display name",
       [](auto* r) { r->mutable_kpi()->clear_display_name(); },
       "kpi.display_name"},
      {"upper-case id", [](auto* r) { r->set_kpi_id("Bad_Id"); }, "kpi_id"},
      {"id starting with a digit", [](auto* r) { r->set_kpi_id("9lives"); },
       "kpi_id"},
      {"no owner", [](auto* r) { r->mutable_kpi()->clear_owner_person(); },
       "kpi.owner_person"},
      {"malformed owner",
       [](auto* r) { r->mutable_kpi()->set_owner_person("persons/x"); },
       "kpi.owner_person"},
      {"currency without code",
       [](auto* r) { r->mutable_kpi()->set_format(mv1::Kpi::CURRENCY); },
       "kpi.currency_code"},
      {"cadence of a second",
       [](auto* r) { r->mutable_kpi()->mutable_cadence()->set_seconds(1); },
       "kpi.cadence"},
      {"bad dimension key",
       [](auto* r) { r->mutable_kpi()->add_dimension_keys("Region!"); },
       "kpi.dimension_keys[0]"},
      {"IN_RANGE with low > high",
       [](auto* r) {
         r->mutable_kpi()->set_direction(mv1::Kpi::IN_RANGE);
         r->mutable_kpi()->mutable_band()->set_low(5);
         r->mutable_kpi()->mutable_band()->set_high(1);
       },
       "kpi.band"},
      {"target ending before it starts",
       [](auto* r) {
         auto* t = r->mutable_kpi()->add_targets();
         *t->mutable_start_time() = Ts(Today());
         *t->mutable_end_time() = Ts(Today() - kDay);
         t->set_value(10);
       },
       "kpi.targets[0].end_time"},
      {"unknown enum value",
       [](auto* r) {
         r->mutable_kpi()->set_aggregation(
             static_cast<mv1::Kpi::Aggregation>(42));
       },
       "kpi.aggregation"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.what);
    mv1::CreateKpiRequest req;
    *req.mutable_kpi() = KpiMsg("Bad", c_->Person("ic-eng-1"));
    req.set_kpi_id("bad-kpi");
    tc.edit(&req);
    mv1::Kpi out;
    auto st = c_->Call(&S::CreateKpi, c_->Token("ic-eng-1"), req, &out);
    EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
    EXPECT_THAT(ViolatedFields(st), Contains(tc.field)) << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), tc.field))
        << st.error_message();
  }
  // Nothing was created by any of them.
  mv1::Kpi got;
  EXPECT_THAT(Get("service", "bad-kpi", &got),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

  // Reads name their fields too.
  mv1::GetKpiRequest get;
  get.set_name("goals/abc");
  auto st = c_->Call(&S::GetKpi, c_->Token("ic-eng-1"), get, &got);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(st), Contains("name"));
  mv1::QueryKpiResponse q;
  st = Query("ic-eng-1", "anything", Today(), Today() - kDay, kDay, &q);
  EXPECT_THAT(ViolatedFields(st), Contains("end_time"));
  st = Query("ic-eng-1", "anything", Today() - kDay, Today(), 0, &q);
  EXPECT_THAT(ViolatedFields(st), Contains("step"));
  st = Query("ic-eng-1", "anything", Today() - 400 * kDay, Today(),
             60 * kSecond, &q);
  EXPECT_THAT(ViolatedFields(st), Contains("step"));
  mv1::ListKpisRequest list;
  list.set_page_size(-1);
  mv1::ListKpisResponse listed;
  st = c_->Call(&S::ListKpis, c_->Token("ic-eng-1"), list, &listed);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  list.set_page_size(1);
  list.set_page_token("not-a-token");
  st = c_->Call(&S::ListKpis, c_->Token("ic-eng-1"), list, &listed);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
}

TEST_P(MetricsIT, BadPointsAreRefusedWholeWithOneViolationEach) {
  mv1::Kpi kpi;
  auto in = KpiMsg("Signups", c_->Person("ic-eng-1"));
  in.add_dimension_keys("region");
  ASSERT_THAT(Create("ic-eng-1", in, "ingest-signups", &kpi), GrpcOk());
  const int64_t now = NowMicros();
  const int64_t today = Today();
  std::vector<mv1::DataPoint> points = {
      Pt("ingest-signups", today, 1),  // good
      Pt("no-such-kpi", today, 2),     // unknown KPI
      Pt("ingest-signups", today + 1,  // NaN
         std::numeric_limits<double>::quiet_NaN()),
      Pt("ingest-signups", now + 2 * kDay, 4),            // too far ahead
      Pt("ingest-signups", today + 2, 5, "color=red"),    // undeclared key
      Pt("ingest-signups", today + 3, 6, "region=emea"),  // good
  };
  const std::vector<std::string> want = {"points[1].kpi", "points[2].value",
                                         "points[3].time",
                                         "points[4].dimension"};
  const int64_t from = today - 2 * kDay, to = today + 4 * kDay;

  mv1::WriteDataPointsResponse resp;
  auto st = Write("ic-eng-1", points, &resp, "ingest-bad-batch");
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(st), ::testing::ElementsAreArray(want));
  EXPECT_EQ(CountOf("ingest-signups", from, to), 0);

  // The same over the stream, the points spread over three messages: the
  // indexes run on across messages.
  st = StreamWrite(
      "ic-eng-1",
      {{points[0], points[1]}, {points[2], points[3]}, {points[4], points[5]}},
      &resp, "ingest-bad-stream");
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(st), ::testing::ElementsAreArray(want));
  EXPECT_EQ(CountOf("ingest-signups", from, to), 0);

  // A point without a time is caught before anything else.
  auto no_time = points[0];
  no_time.clear_time();
  st = Write("ic-eng-1", {points[0], no_time}, &resp);
  EXPECT_THAT(ViolatedFields(st), ElementsAre("points[1].time"));
  st = Write("ic-eng-1", {}, &resp);
  EXPECT_THAT(ViolatedFields(st), ElementsAre("points"));
  EXPECT_EQ(CountOf("ingest-signups", from, to), 0);

  // The good points alone go through, each way; a refused request_id is
  // not burnt.
  ASSERT_THAT(StreamWrite("ic-eng-1", {{points[0]}, {points[5]}}, &resp,
                          "ingest-bad-stream"),
              GrpcOk());
  EXPECT_EQ(resp.written(), 2);
  EXPECT_EQ(CountOf("ingest-signups", from, to), 2);
  ASSERT_THAT(Write("ic-eng-1", {Pt("ingest-signups", today + 9, 9)}, &resp,
                    "ingest-bad-batch"),
              GrpcOk());
  EXPECT_EQ(CountOf("ingest-signups", from, to), 3);
}

TEST_P(MetricsIT, ResentPointsAndRequestIdsCountOnce) {
  mv1::Kpi kpi;
  ASSERT_THAT(Create("ic-eng-2", KpiMsg("Tickets", c_->Person("ic-eng-2")),
                     "resend-tickets", &kpi),
              GrpcOk());
  const int64_t day = Today() - 3 * kDay;
  std::vector<mv1::DataPoint> first;
  for (int i = 0; i < 5; ++i)
    first.push_back(Pt("resend-tickets", day + i * kHour, 10 + i));
  // A point given twice in one call counts once (the last one wins).
  first.push_back(Pt("resend-tickets", day, 7));
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(Write("ic-eng-2", first, &resp), GrpcOk());
  ASSERT_THAT(Write("ic-eng-2", first, &resp), GrpcOk());
  // 7 + 11 + 12 + 13 + 14
  auto check = [&](int64_t count, double sum) {
    mv1::QueryKpiResponse q;
    ASSERT_THAT(Query("ic-eng-2", "resend-tickets", day, day + kDay, kDay, &q),
                GrpcOk());
    ASSERT_EQ(q.series_size(), 1);
    ASSERT_EQ(q.series(0).buckets_size(), 1);
    EXPECT_EQ(q.series(0).buckets(0).count(), count);
    EXPECT_DOUBLE_EQ(q.series(0).buckets(0).value(), sum);
  };
  check(5, 57);

  std::vector<mv1::DataPoint> second;
  for (int i = 0; i < 3; ++i)
    second.push_back(Pt("resend-tickets", day + (10 + i) * kHour, 100));
  ASSERT_THAT(Write("ic-eng-2", second, &resp, "resend-1"), GrpcOk());
  EXPECT_EQ(resp.written(), 3);
  ASSERT_THAT(Write("ic-eng-2", second, &resp, "resend-1"), GrpcOk());
  EXPECT_EQ(resp.written(), 3);
  // The stream shares the key space: the same points under the same id are
  // the same request.
  ASSERT_THAT(StreamWrite("ic-eng-2", {{second[0]}, {second[1], second[2]}},
                          &resp, "resend-1"),
              GrpcOk());
  EXPECT_EQ(resp.written(), 3);
  check(8, 357);
  // The same id for other points is refused and writes nothing.
  auto st = Write("ic-eng-2", {Pt("resend-tickets", day + 20 * kHour, 1)},
                  &resp, "resend-1");
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(st), ElementsAre("request_id"));
  check(8, 357);
  // A replaced point leaves no trace of its old value.
  ASSERT_THAT(Write("ic-eng-2", {Pt("resend-tickets", day, 1)}, &resp),
              GrpcOk());
  check(8, 351);
}

TEST_P(MetricsIT, QueryBucketsMatchARecomputation) {
  mv1::Kpi kpi;
  auto in = KpiMsg("Orders value", c_->Person("mgr-sales"));
  in.add_dimension_keys("region");
  ASSERT_THAT(Create("mgr-sales", in, "query-orders", &kpi), GrpcOk());
  const int64_t t0 = Today() - 30 * kDay;
  std::mt19937 rng(20261203);
  const std::vector<std::string> dims = {"", "region=emea", "region=amer",
                                         "region=apac"};
  std::map<std::pair<std::string, int64_t>, double> sent;  // (dim, time)
  // Times unique across dimensions too, so that LAST has one answer.
  std::set<int64_t> times;
  while (sent.size() < 400) {
    int64_t t = t0 + static_cast<int64_t>(rng() % (30 * 86400)) * kSecond;
    if (!times.insert(t).second) continue;
    std::string dim = dims[rng() % dims.size()];
    sent[{dim, t}] = static_cast<double>(static_cast<int>(rng() % 1051) - 50);
  }
  std::vector<mv1::DataPoint> points;
  for (const auto& [key, v] : sent)
    points.push_back(Pt("query-orders", key.second, v, key.first));
  std::shuffle(points.begin(), points.end(), rng);
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(Write("mgr-sales", points, &resp), GrpcOk());
  EXPECT_EQ(resp.written(), 400);

  // Folds of [start + i*step, ...) over the points whose dimension `keep`
  // accepts, grouped by `group`.
  auto expect = [&](int64_t start, int64_t end, int64_t step, auto keep,
                    auto group) {
    std::map<std::string, std::vector<Fold>> out;
    size_t n = static_cast<size_t>((end - start + step - 1) / step);
    for (const auto& [key, v] : sent) {
      const auto& [dim, t] = key;
      if (t < start || t >= end || !keep(dim)) continue;
      auto& s = out[group(dim)];
      s.resize(n);
      s[static_cast<size_t>((t - start) / step)].Add(t, v);
    }
    return out;
  };
  auto all = [](const std::string&) { return true; };
  auto none = [](const std::string&) { return std::string(); };
  auto compare = [](const mv1::QueryKpiResponse::Series& got,
                    const std::vector<Fold>& want, mv1::Kpi::Aggregation a,
                    int64_t start, int64_t step) {
    ASSERT_EQ(got.buckets_size(), static_cast<int>(want.size()));
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("bucket ", i, " aggregation ", a));
      const auto& b = got.buckets(static_cast<int>(i));
      EXPECT_EQ(Us(b.start_time()), start + static_cast<int64_t>(i) * step);
      EXPECT_EQ(b.count(), want[i].count);
      if (want[i].count == 0 && a != mv1::Kpi::COUNT) {
        EXPECT_FALSE(b.has_value());
        continue;
      }
      ASSERT_TRUE(b.has_value());
      double w = 0;
      switch (a) {
        case mv1::Kpi::SUM:
          w = want[i].sum;
          break;
        case mv1::Kpi::MEAN:
          w = want[i].sum / want[i].count;
          break;
        case mv1::Kpi::MIN:
          w = want[i].min;
          break;
        case mv1::Kpi::MAX:
          w = want[i].max;
          break;
        case mv1::Kpi::LAST:
          w = want[i].last;
          break;
        case mv1::Kpi::COUNT:
          w = static_cast<double>(want[i].count);
          break;
        default:
          FAIL();
      }
      EXPECT_NEAR(b.value(), w, 1e-9 * std::max(1.0, std::abs(w)));
    }
  };

  // Whole days (read from the hourly folds) and days starting at half past
  // (read from the raw points): the same answer either way.
  for (int64_t start : {t0, t0 + 30 * 60 * kSecond}) {
    int64_t end = start + 30 * kDay - (start == t0 ? 0 : kDay);
    auto want = expect(start, end, kDay, all, none)[""];
    for (auto a :
         {mv1::Kpi::AGGREGATION_UNSPECIFIED, mv1::Kpi::MEAN, mv1::Kpi::MIN,
          mv1::Kpi::MAX, mv1::Kpi::LAST, mv1::Kpi::COUNT}) {
      SCOPED_TRACE(absl::StrCat("start ", start, " aggregation ", a));
      mv1::QueryKpiResponse q;
      ASSERT_THAT(Query("ic-eng-1", "query-orders", start, end, kDay, &q, a),
                  GrpcOk());
      ASSERT_EQ(q.series_size(), 1);
      EXPECT_EQ(q.series(0).dimension(), "");
      compare(q.series(0), want,
              a == mv1::Kpi::AGGREGATION_UNSPECIFIED ? mv1::Kpi::SUM : a, start,
              kDay);
    }
  }

  // One series per region; points without a region are in none of them.
  auto groups = expect(
      t0, t0 + 30 * kDay, kDay, [](const std::string& d) { return !d.empty(); },
      [](const std::string& d) { return d; });
  mv1::QueryKpiResponse q;
  ASSERT_THAT(Query("ic-eng-1", "query-orders", t0, t0 + 30 * kDay, kDay, &q,
                    mv1::Kpi::AGGREGATION_UNSPECIFIED, "region"),
              GrpcOk());
  ASSERT_EQ(q.series_size(), 3);
  for (const auto& s : q.series()) {
    SCOPED_TRACE(s.dimension());
    ASSERT_TRUE(groups.contains(s.dimension()));
    compare(s, groups[s.dimension()], mv1::Kpi::SUM, t0, kDay);
  }
  // A filter on one region answers that group's series.
  ASSERT_THAT(Query("ic-eng-1", "query-orders", t0, t0 + 30 * kDay, kDay, &q,
                    mv1::Kpi::AGGREGATION_UNSPECIFIED, "", "region=emea"),
              GrpcOk());
  ASSERT_EQ(q.series_size(), 1);
  compare(q.series(0), groups["region=emea"], mv1::Kpi::SUM, t0, kDay);
  // A key the KPI does not declare.
  auto st = Query("ic-eng-1", "query-orders", t0, t0 + kDay, kDay, &q,
                  mv1::Kpi::AGGREGATION_UNSPECIFIED, "color");
  EXPECT_THAT(ViolatedFields(st), ElementsAre("group_by"));
}

TEST_P(MetricsIT, FormulaValuesMatchARecomputation) {
  mv1::Kpi out;
  ASSERT_THAT(
      Create("ceo", KpiMsg("Orders", c_->Person("ceo")), "orders", &out),
      GrpcOk());
  ASSERT_THAT(
      Create("ceo", KpiMsg("Visits", c_->Person("ceo")), "visits", &out),
      GrpcOk());
  auto conv = KpiMsg("Conversion", c_->Person("ceo"));
  conv.set_format(mv1::Kpi::PERCENT);
  conv.set_formula("orders / visits");
  ASSERT_THAT(Create("ceo", conv, "conversion", &out), GrpcOk());

  // Ten past days and today: day 3 has visits = 0, day 6 no visits at all,
  // day 8 no orders.
  const int64_t today = Today();
  const int64_t t0 = today - 10 * kDay;
  std::mt19937 rng(7);
  std::vector<mv1::DataPoint> points;
  std::vector<std::optional<double>> orders(11), visits(11);
  for (int d = 0; d <= 10; ++d) {
    int64_t day = t0 + d * kDay;
    // Today's points sit in the first microseconds of the day: never ahead
    // of now.
    auto at = [&](int i) {
      return d == 10 ? day + i : day + i * 2 * kHour + 1234567;
    };
    if (d != 8) {
      int n = 1 + static_cast<int>(rng() % 3);
      orders[d] = 0;
      for (int i = 0; i < n; ++i) {
        double v = static_cast<double>(rng() % 20);
        *orders[d] += v;
        points.push_back(Pt("orders", at(i), v));
      }
    }
    if (d == 3) {
      visits[d] = 0;
      points.push_back(Pt("visits", at(0), 0));
    } else if (d != 6) {
      int n = 1 + static_cast<int>(rng() % 3);
      visits[d] = 0;
      for (int i = 0; i < n; ++i) {
        double v = static_cast<double>(50 + rng() % 150);
        *visits[d] += v;
        points.push_back(Pt("visits", at(i), v));
      }
    }
  }
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(Write("ceo", points, &resp), GrpcOk());
  auto ratio = [&](int d) -> std::optional<double> {
    if (!orders[d] || !visits[d] || *visits[d] == 0) return std::nullopt;
    return *orders[d] / *visits[d];
  };

  mv1::QueryKpiResponse q;
  ASSERT_THAT(Query("mgr-eng", "conversion", t0, today + kDay, kDay, &q),
              GrpcOk());
  ASSERT_EQ(q.series_size(), 1);
  ASSERT_EQ(q.series(0).buckets_size(), 11);
  for (int d = 0; d <= 10; ++d) {
    SCOPED_TRACE(absl::StrCat("day ", d));
    const auto& b = q.series(0).buckets(d);
    EXPECT_EQ(Us(b.start_time()), t0 + d * kDay);
    auto want = ratio(d);
    ASSERT_EQ(b.has_value(), want.has_value()) << b.value();
    if (want) {
      EXPECT_NEAR(b.value(), *want, 1e-12);
    }
  }
  EXPECT_FALSE(q.series(0).buckets(3).has_value());  // visits = 0
  EXPECT_FALSE(q.series(0).buckets(6).has_value());  // no visits

  mv1::KpiStatus st;
  ASSERT_THAT(Status("ic-sales-2", "conversion", &st), GrpcOk());
  EXPECT_EQ(st.kpi(), "kpis/conversion");
  EXPECT_EQ(Us(st.period_start()), today);
  EXPECT_EQ(Us(st.period_end()), today + kDay);
  ASSERT_TRUE(st.has_value());
  EXPECT_NEAR(st.value(), *ratio(10), 1e-12);
  ASSERT_TRUE(st.has_previous_value());
  EXPECT_NEAR(st.previous_value(), *ratio(9), 1e-12);
  EXPECT_EQ(st.status(), mv1::KpiStatus::NO_TARGET);
  // The inputs' own status agrees with the points.
  ASSERT_THAT(Status("ic-sales-2", "visits", &st), GrpcOk());
  EXPECT_DOUBLE_EQ(st.value(), *visits[10]);
  EXPECT_DOUBLE_EQ(st.previous_value(), *visits[9]);

  // A derived KPI takes no points, and is queried whole.
  auto bad = Write("ceo", {Pt("conversion", today, 1)}, &resp);
  EXPECT_THAT(ViolatedFields(bad), ElementsAre("points[0].kpi"));
  bad = Query("ceo", "conversion", t0, today, kDay, &q, mv1::Kpi::MAX);
  EXPECT_THAT(bad, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  // An input a formula names cannot be deleted.
  mv1::DeleteKpiRequest del;
  del.set_name("kpis/visits");
  google::protobuf::Empty empty;
  EXPECT_THAT(c_->Call(&S::DeleteKpi, c_->Token("ceo"), del, &empty),
              GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION));
}

TEST_P(MetricsIT, BadFormulasNameKpiFormula) {
  mv1::Kpi out;
  ASSERT_THAT(Create("ceo", KpiMsg("Leads", c_->Person("ceo")), "leads", &out),
              GrpcOk());
  auto derived = [&](const std::string& formula,
                     const std::string& owner = "ceo") {
    auto k = KpiMsg("Derived", c_->Person(owner));
    k.set_formula(formula);
    return k;
  };
  for (const auto& [id, formula] :
       std::vector<std::pair<std::string, std::string>>{
           {"f-unknown", "leads / nosuch"},
           {"f-self", "f_self + leads"},
           {"f-parse", "leads /"},
           {"f-empty-names", "2 * 3"},
       }) {
    SCOPED_TRACE(formula);
    auto st = Create("ceo", derived(formula), id, &out);
    EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
    EXPECT_THAT(ViolatedFields(st), ElementsAre("kpi.formula"))
        << st.error_message();
  }
  // A PRIVATE KPI of someone else is as unknown as a missing one.
  ASSERT_THAT(Create("ic-sales-1",
                     KpiMsg("Calls", c_->Person("ic-sales-1"), mv1::Kpi::SUM,
                            mv1::PRIVATE),
                     "f-private-calls", &out),
              GrpcOk());
  auto hidden =
      Create("ic-eng-1", derived("leads + f_private_calls", "ic-eng-1"),
             "f-hidden", &out);
  auto missing =
      Create("ic-eng-1", derived("leads + f_missing_calls", "ic-eng-1"),
             "f-hidden", &out);
  EXPECT_THAT(ViolatedFields(hidden), ElementsAre("kpi.formula"));
  EXPECT_EQ(
      absl::StrReplaceAll(hidden.error_message(), {{"f_private_calls", "X"}}),
      absl::StrReplaceAll(missing.error_message(), {{"f_missing_calls", "X"}}));

  // A cycle made by an update.
  ASSERT_THAT(Create("ceo", derived("leads + 1"), "f-chain-a", &out), GrpcOk());
  mv1::Kpi a = out;
  ASSERT_THAT(Create("ceo", derived("f_chain_a * 2"), "f-chain-b", &out),
              GrpcOk());
  mv1::UpdateKpiRequest up;
  up.mutable_kpi()->set_name(a.name());
  up.mutable_kpi()->set_formula("f_chain_b - 1");
  up.mutable_update_mask()->add_paths("formula");
  auto st = c_->Call(&S::UpdateKpi, c_->Token("ceo"), up, &out);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(st), ElementsAre("kpi.formula"));
  EXPECT_TRUE(absl::StrContains(st.error_message(), "cycle"))
      << st.error_message();
  ASSERT_THAT(Get("ceo", "f-chain-a", &out), GrpcOk());
  EXPECT_EQ(out.formula(), "leads + 1");
  EXPECT_EQ(out.revision(), 1);
}

TEST_P(MetricsIT, PrivateKpiIsReadByOwnerChainHrAndServicesOnly) {
  mv1::Kpi kpi;
  ASSERT_THAT(Create("ic-eng-1",
                     KpiMsg("Review turnaround", c_->Person("ic-eng-1"),
                            mv1::Kpi::SUM, mv1::PRIVATE),
                     "private-turnaround", &kpi),
              GrpcOk());
  const int64_t today = Today();
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(Write("ic-eng-1", {Pt("private-turnaround", today, 4)}, &resp),
              GrpcOk());
  const std::string owner = c_->Person("ic-eng-1");

  for (const char* who : {"ic-eng-1", "mgr-eng", "ceo", "hr", "service"}) {
    SCOPED_TRACE(who);
    mv1::Kpi got;
    EXPECT_THAT(Get(who, "private-turnaround", &got), GrpcOk());
    mv1::KpiStatus st;
    ASSERT_THAT(Status(who, "private-turnaround", &st), GrpcOk());
    EXPECT_DOUBLE_EQ(st.value(), 4);
    mv1::QueryKpiResponse q;
    ASSERT_THAT(Query(who, "private-turnaround", today, today + kDay, kDay, &q),
                GrpcOk());
    ASSERT_EQ(q.series_size(), 1);
    EXPECT_EQ(q.series(0).buckets(0).count(), 1);
    EXPECT_THAT(Listed(who, owner), Contains(kpi.name()));
    EXPECT_THAT(Listed(who), Contains(kpi.name()));
  }

  // A peer and someone elsewhere get what a KPI that does not exist gets.
  auto same_shape = [](const grpc::Status& got, const grpc::Status& missing) {
    EXPECT_THAT(got, GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
    EXPECT_EQ(
        absl::StrReplaceAll(got.error_message(), {{"private-turnaround", "X"}}),
        absl::StrReplaceAll(missing.error_message(),
                            {{"absent-turnaround", "X"}}));
    EXPECT_EQ(got.error_details().empty(), missing.error_details().empty());
  };
  for (const char* who : {"ic-eng-2", "ic-sales-1", "mgr-sales"}) {
    SCOPED_TRACE(who);
    mv1::Kpi got;
    same_shape(Get(who, "private-turnaround", &got),
               Get(who, "absent-turnaround", &got));
    mv1::KpiStatus st;
    same_shape(Status(who, "private-turnaround", &st),
               Status(who, "absent-turnaround", &st));
    mv1::QueryKpiResponse q;
    same_shape(Query(who, "private-turnaround", today, today + kDay, kDay, &q),
               Query(who, "absent-turnaround", today, today + kDay, kDay, &q));
    EXPECT_THAT(Listed(who, owner), Not(Contains(kpi.name())));
    EXPECT_THAT(Listed(who), Not(Contains(kpi.name())));
    mv1::UpdateKpiRequest up;
    up.mutable_kpi()->set_name(kpi.name());
    up.mutable_kpi()->set_display_name("Mine now");
    up.mutable_update_mask()->add_paths("display_name");
    EXPECT_THAT(c_->Call(&S::UpdateKpi, Tok(who), up, &got),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
    mv1::DeleteKpiRequest del;
    del.set_name(kpi.name());
    google::protobuf::Empty empty;
    EXPECT_THAT(c_->Call(&S::DeleteKpi, Tok(who), del, &empty),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

    // Writing its points fails as for an unknown KPI, and writes nothing.
    auto w = Write(who, {Pt("private-turnaround", today + 1, 100)}, &resp);
    auto w_missing =
        Write(who, {Pt("absent-turnaround", today + 1, 100)}, &resp);
    EXPECT_THAT(w, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
    EXPECT_THAT(ViolatedFields(w), ElementsAre("points[0].kpi"));
    EXPECT_EQ(
        absl::StrReplaceAll(w.error_message(), {{"private-turnaround", "X"}}),
        absl::StrReplaceAll(w_missing.error_message(),
                            {{"absent-turnaround", "X"}}));
  }
  // hr reads but does not write.
  EXPECT_THAT(Write("hr", {Pt("private-turnaround", today + 2, 100)}, &resp),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(CountOf("private-turnaround", today, today + kDay), 1);
  mv1::KpiStatus st;
  ASSERT_THAT(Status("ic-eng-1", "private-turnaround", &st), GrpcOk());
  EXPECT_DOUBLE_EQ(st.value(), 4);
}

TEST_P(MetricsIT, WatchSeesChangesInOrderResumesAndFilters) {
  auto chain = std::make_unique<KpiWatch>(c_->stub(), c_->Token("mgr-eng"));
  auto peer = std::make_unique<KpiWatch>(c_->stub(), c_->Token("ic-sales-1"));

  mv1::Kpi priv, pub;
  ASSERT_THAT(Create("ic-eng-1",
                     KpiMsg("Private pace", c_->Person("ic-eng-1"),
                            mv1::Kpi::SUM, mv1::PRIVATE),
                     "watch-private", &priv),
              GrpcOk());
  ASSERT_THAT(Create("ic-eng-1", KpiMsg("Public pace", c_->Person("ic-eng-1")),
                     "watch-public", &pub),
              GrpcOk());
  const int64_t day = Today() - 2 * kDay;
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(Write("ic-eng-1",
                    {Pt("watch-private", day + kHour, 1),
                     Pt("watch-private", day + 5 * kHour, 2)},
                    &resp),
              GrpcOk());
  ASSERT_THAT(Write("ic-eng-1",
                    {Pt("watch-public", day + 2 * kHour, 3),
                     Pt("watch-public", day + 3 * kHour, 3),
                     Pt("watch-public", day + 4 * kHour, 3)},
                    &resp),
              GrpcOk());
  mv1::UpdateKpiRequest up;
  up.mutable_kpi()->set_name(pub.name());
  up.mutable_kpi()->set_display_name("Public pace (weekly)");
  up.mutable_update_mask()->add_paths("display_name");
  mv1::Kpi updated;
  ASSERT_THAT(c_->Call(&S::UpdateKpi, c_->Token("ic-eng-1"), up, &updated),
              GrpcOk());

  auto is_last = [&](const mv1::WatchKpisResponse& e) {
    return e.change_type() == mv1::WatchKpisResponse::UPDATED &&
           e.kpi().name() == pub.name();
  };
  auto text = [](const std::vector<mv1::WatchKpisResponse>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      std::string s =
          absl::StrCat(mv1::WatchKpisResponse::ChangeType_Name(e.change_type()),
                       " ", e.kpi().name());
      if (e.change_type() == mv1::WatchKpisResponse::POINTS_WRITTEN) {
        absl::StrAppend(&s, " ", e.points_written(), " ",
                        (Us(e.points_start_time()) - Today()) / kHour, "..",
                        (Us(e.points_end_time()) - Today()) / kHour);
      }
      out.push_back(s);
    }
    return out;
  };
  bool found = false;
  auto events = chain->ReadUntil(is_last, 50, &found);
  ASSERT_TRUE(found) << chain->Cancel().error_message();
  EXPECT_THAT(
      text(events),
      ElementsAre("CREATED kpis/watch-private", "CREATED kpis/watch-public",
                  "POINTS_WRITTEN kpis/watch-private 2 -47..-43",
                  "POINTS_WRITTEN kpis/watch-public 3 -46..-44",
                  "UPDATED kpis/watch-public"));
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events.back().kpi().display_name(), "Public pace (weekly)");
  for (const auto& e : events) EXPECT_FALSE(e.resume_token().empty());

  // From the token of the second event: only what came after it.
  KpiWatch resumed(c_->stub(), c_->Token("mgr-eng"), events[1].resume_token());
  auto later = resumed.ReadUntil(is_last, 50, &found);
  ASSERT_TRUE(found);
  EXPECT_THAT(text(later),
              ElementsAre("POINTS_WRITTEN kpis/watch-private 2 -47..-43",
                          "POINTS_WRITTEN kpis/watch-public 3 -46..-44",
                          "UPDATED kpis/watch-public"));
  // From the last token: nothing until the next change.
  KpiWatch tail(c_->stub(), c_->Token("mgr-eng"), events.back().resume_token());
  ASSERT_THAT(Write("ic-eng-1", {Pt("watch-public", day, 9)}, &resp), GrpcOk());
  auto next = tail.ReadUntil([](const auto&) { return true; }, 1, &found);
  ASSERT_TRUE(found);
  EXPECT_THAT(text(next),
              ElementsAre("POINTS_WRITTEN kpis/watch-public 1 -48..-48"));

  // The peer sees the public KPI's changes and nothing of the private one.
  auto seen = peer->ReadUntil(is_last, 50, &found);
  ASSERT_TRUE(found);
  EXPECT_THAT(text(seen),
              ElementsAre("CREATED kpis/watch-public",
                          "POINTS_WRITTEN kpis/watch-public 3 -46..-44",
                          "UPDATED kpis/watch-public"));
  chain->Cancel();
  peer->Cancel();
  resumed.Cancel();
  tail.Cancel();
}

TEST_P(MetricsIT, MetricsExposeExportedKpisWithoutPersonLabels) {
  auto scrape = [&]() -> std::string {
    auto text = c_->service().ScrapeMetrics();
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  };
  const std::string before = scrape();
  double written_before =
      SeriesValue(before, "sightline_kpi_points_written_total", {});
  ASSERT_GE(written_before, 0) << before;

  mv1::Kpi kpi;
  auto in = KpiMsg("Exported revenue", c_->Person("mgr-sales"));
  in.set_export_(true);
  ASSERT_THAT(Create("mgr-sales", in, "exported-revenue", &kpi), GrpcOk());
  ASSERT_THAT(
      Create("mgr-sales", KpiMsg("Quiet revenue", c_->Person("mgr-sales")),
             "quiet-revenue", &kpi),
      GrpcOk());
  const int64_t today = Today();
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(Write("mgr-sales",
                    {Pt("exported-revenue", today, 10),
                     Pt("exported-revenue", today + 1, 20),
                     Pt("exported-revenue", today + 2, 30),
                     Pt("quiet-revenue", today, 5)},
                    &resp),
              GrpcOk());

  // The gauges are recomputed every second (--metrics_refresh=1s).
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = scrape();
    if (SeriesValue(text, "sightline_kpi_value",
                    {{"kpi", "exported-revenue"}}) == 60) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(
      SeriesValue(text, "sightline_kpi_value", {{"kpi", "exported-revenue"}}),
      60)
      << text;
  EXPECT_EQ(
      SeriesValue(text, "sightline_kpi_status", {{"kpi", "exported-revenue"}}),
      static_cast<double>(mv1::KpiStatus::NO_TARGET));
  EXPECT_EQ(
      SeriesValue(text, "sightline_kpi_value", {{"kpi", "quiet-revenue"}}), -1);
  EXPECT_EQ(SeriesValue(text, "sightline_kpi_points_written_total", {}),
            written_before + 4);
  for (const char* ext : {"ceo", "hr", "mgr-eng", "ic-eng-1", "ic-eng-2",
                          "ic-plat", "mgr-sales", "ic-sales-1", "ic-sales-2"}) {
    std::string id = c_->Person(ext).substr(std::string("people/").size());
    ASSERT_FALSE(id.empty());
    EXPECT_FALSE(absl::StrContains(text, id)) << ext << " " << id;
  }
  auto [code, out] = PromtoolCheck(text, c_->dir());
  EXPECT_EQ(code, 0) << out;
}

INSTANTIATE_TEST_SUITE_P(Db, MetricsIT,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

// SIGKILL while a client writes: every acknowledged batch survives, and a
// retry of the unacknowledged ones with their request_ids writes each point
// once.
TEST(MetricsCrashIT, SigkillDuringIngestionKeepsEveryAcknowledgedPointOnce) {
  auto started = MetricsCluster::Start(Db::kSqlite);
  ASSERT_TRUE(started.ok()) << started.status();
  auto& c = **started;
  {
    mv1::CreateKpiRequest req;
    *req.mutable_kpi() = KpiMsg("Ledger", c.Person("ceo"));
    req.set_kpi_id("ledger");
    mv1::Kpi out;
    ASSERT_THAT(c.Call(&S::CreateKpi, c.ServiceToken(), req, &out), GrpcOk());
  }
  constexpr int kPerBatch = 10;
  constexpr int kMaxBatches = 1000;
  const int64_t t0 = Today() - 20 * kDay;
  auto batch = [&](int b) {
    mv1::BatchWriteDataPointsRequest req;
    req.set_request_id(absl::StrCat("ledger-", b));
    for (int j = 0; j < kPerBatch; ++j) {
      int i = b * kPerBatch + j;
      *req.add_points() = Pt("ledger", t0 + i * 2 * 60 * kSecond, i % 97 + 1);
    }
    return req;
  };
  const std::string token = c.ServiceToken();
  absl::Mutex mu;
  std::vector<int> acked, failed;  // batch numbers
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto stub = c.NewStub();
    absl::Time until = absl::Now() + absl::Seconds(60);
    for (int b = 0; b < kMaxBatches && !stop && absl::Now() < until; ++b) {
      grpc::ClientContext ctx;
      Authorize(&ctx, token, absl::Seconds(5));
      mv1::WriteDataPointsResponse resp;
      auto st = stub->BatchWriteDataPoints(&ctx, batch(b), &resp);
      absl::MutexLock lock(&mu);
      if (st.ok() && resp.written() == kPerBatch) {
        acked.push_back(b);
      } else {
        failed.push_back(b);
      }
    }
  });
  // Kill once a good part has been acknowledged.
  for (absl::Time until = absl::Now() + absl::Seconds(60); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(5))) {
    absl::MutexLock lock(&mu);
    if (acked.size() >= 40) break;
  }
  ASSERT_TRUE(c.Kill().ok());
  // A few more attempts against the dead server.
  for (absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(5))) {
    absl::MutexLock lock(&mu);
    if (failed.size() >= 3) break;
  }
  stop = true;
  writer.join();
  ASSERT_GE(acked.size(), 40u);
  ASSERT_FALSE(failed.empty());

  ASSERT_TRUE(c.Restart().ok());
  for (int b : failed) {
    grpc::Status st;
    mv1::WriteDataPointsResponse resp;
    for (int attempt = 0; attempt < 50; ++attempt) {
      grpc::ClientContext ctx;
      Authorize(&ctx, token, absl::Seconds(10));
      st = c.stub()->BatchWriteDataPoints(&ctx, batch(b), &resp);
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_THAT(st, GrpcOk()) << "batch " << b;
    EXPECT_EQ(resp.written(), kPerBatch);
  }

  // The ledger: every batch that was sent, acknowledged now.
  std::map<int64_t, Fold> days;
  int batches = static_cast<int>(acked.size() + failed.size());
  for (int b = 0; b < batches; ++b) {
    const auto req = batch(b);
    for (const auto& p : req.points()) {
      int64_t t = Us(p.time());
      days[(t - t0) / kDay].Add(t, p.value());
    }
  }
  const int64_t end = t0 + 20 * kDay;
  for (auto a : {mv1::Kpi::COUNT, mv1::Kpi::SUM}) {
    mv1::QueryKpiRequest req;
    req.set_kpi("kpis/ledger");
    *req.mutable_start_time() = Ts(t0);
    *req.mutable_end_time() = Ts(end);
    *req.mutable_step() = TimeUtil::MicrosecondsToDuration(kDay);
    req.set_aggregation(a);
    mv1::QueryKpiResponse q;
    ASSERT_THAT(c.Call(&S::QueryKpi, token, req, &q), GrpcOk());
    ASSERT_EQ(q.series_size(), 1);
    ASSERT_EQ(q.series(0).buckets_size(), 20);
    int64_t total = 0;
    for (int d = 0; d < 20; ++d) {
      SCOPED_TRACE(absl::StrCat("day ", d));
      const auto& b = q.series(0).buckets(d);
      auto it = days.find(d);
      int64_t count = it == days.end() ? 0 : it->second.count;
      EXPECT_EQ(b.count(), count);
      total += b.count();
      if (a == mv1::Kpi::COUNT) {
        EXPECT_EQ(b.value(), static_cast<double>(count));
      } else if (count > 0) {
        EXPECT_DOUBLE_EQ(b.value(), it->second.sum);
      } else {
        EXPECT_FALSE(b.has_value());
      }
    }
    EXPECT_EQ(total, int64_t{batches} * kPerBatch);
  }
}

// PostgreSQL stopped under the service: UNAVAILABLE (never INTERNAL), no
// half-written request; once it is back, the service answers again.
TEST(MetricsPostgresIT, DatabaseDownIsUnavailableThenRecovers) {
  auto started = MetricsCluster::Start(Db::kPostgres);
  ASSERT_TRUE(started.ok()) << started.status();
  auto& c = **started;
  const std::string token = c.Token("mgr-eng");
  const int64_t today = Today();
  mv1::Kpi kpi;
  {
    mv1::CreateKpiRequest req;
    *req.mutable_kpi() = KpiMsg("Deploys", c.Person("mgr-eng"));
    req.set_kpi_id("deploys");
    ASSERT_THAT(c.Call(&S::CreateKpi, token, req, &kpi), GrpcOk());
  }
  mv1::BatchWriteDataPointsRequest before;
  for (int i = 0; i < 3; ++i)
    *before.add_points() = Pt("deploys", today + i, 1);
  mv1::WriteDataPointsResponse resp;
  ASSERT_THAT(c.Call(&S::BatchWriteDataPoints, token, before, &resp), GrpcOk());
  mv1::QueryKpiRequest query;
  query.set_kpi("kpis/deploys");
  *query.mutable_start_time() = Ts(today - kDay);
  *query.mutable_end_time() = Ts(today + kDay);
  *query.mutable_step() = TimeUtil::MicrosecondsToDuration(2 * kDay);
  auto count = [&](grpc::Status* st) -> int64_t {
    mv1::QueryKpiResponse q;
    *st = c.Call(&S::QueryKpi, token, query, &q);
    if (!st->ok() || q.series_size() != 1 || q.series(0).buckets_size() != 1)
      return -1;
    return q.series(0).buckets(0).count();
  };
  grpc::Status st;
  ASSERT_EQ(count(&st), 3) << st.error_message();

  ASSERT_NE(c.people().postgres(), nullptr);
  c.people().postgres()->Stop();

  auto unavailable = GrpcStatusIs(grpc::StatusCode::UNAVAILABLE);
  mv1::BatchWriteDataPointsRequest during;
  during.set_request_id("during-outage");
  for (int i = 0; i < 2; ++i)
    *during.add_points() = Pt("deploys", today + 10 + i, 5);
  EXPECT_THAT(c.Call(&S::BatchWriteDataPoints, token, during, &resp),
              unavailable);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    auto w = c.stub()->WriteDataPoints(&ctx, &resp);
    mv1::WriteDataPointsRequest m;
    m.set_request_id("during-outage-stream");
    *m.add_points() = Pt("deploys", today + 20, 7);
    w->Write(m);
    w->WritesDone();
    EXPECT_THAT(w->Finish(), unavailable);
  }
  EXPECT_EQ(count(&st), -1);
  EXPECT_THAT(st, unavailable);
  {
    mv1::CreateKpiRequest req;
    *req.mutable_kpi() = KpiMsg("Incidents", c.Person("mgr-eng"));
    req.set_kpi_id("incidents");
    mv1::Kpi out;
    EXPECT_THAT(c.Call(&S::CreateKpi, token, req, &out), unavailable);
    mv1::UpdateKpiRequest up;
    up.mutable_kpi()->set_name(kpi.name());
    up.mutable_kpi()->set_display_name("Deploys per day");
    up.mutable_update_mask()->add_paths("display_name");
    EXPECT_THAT(c.Call(&S::UpdateKpi, token, up, &out), unavailable);
    mv1::ListKpisRequest list;
    mv1::ListKpisResponse listed;
    EXPECT_THAT(c.Call(&S::ListKpis, token, list, &listed), unavailable);
    // Reads of what the process holds in memory may still answer; nothing
    // answers INTERNAL.
    mv1::GetKpiRequest get;
    get.set_name(kpi.name());
    EXPECT_THAT(c.Call(&S::GetKpi, token, get, &out),
                AnyOf(GrpcOk(), unavailable));
    mv1::GetKpiStatusRequest status;
    status.set_name(kpi.name());
    mv1::KpiStatus ks;
    EXPECT_THAT(c.Call(&S::GetKpiStatus, token, status, &ks),
                AnyOf(GrpcOk(), unavailable));
  }
  EXPECT_TRUE(c.service().running());

  ASSERT_TRUE(c.people().postgres()->Restart().ok());
  int64_t n = -1;
  for (absl::Time until = absl::Now() + absl::Seconds(60); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(100))) {
    n = count(&st);
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
  }
  ASSERT_THAT(st, GrpcOk());
  EXPECT_EQ(n, 3);  // nothing of the refused writes
  ASSERT_THAT(c.Call(&S::BatchWriteDataPoints, token, during, &resp), GrpcOk());
  EXPECT_EQ(resp.written(), 2);
  EXPECT_EQ(count(&st), 5);
  mv1::Kpi out;
  mv1::GetKpiRequest get;
  get.set_name(kpi.name());
  ASSERT_THAT(c.Call(&S::GetKpi, token, get, &out), GrpcOk());
  EXPECT_EQ(out.display_name(), "Deploys");
  EXPECT_EQ(out.revision(), 1);
}

}  // namespace
}  // namespace sightline::testing
