// sightline-bench-metrics: the metrics service's measures of `make bench`,
// against the service as deployed (SQLite, durable commits).
//
//   sightline-bench-metrics ingest --target=A --token=T --owner=people/P
//       --kpis=K --points=N --batch=B --inflight=F
//       Creates K PUBLIC KPIs owned by P (ids bench-k0...), then streams N
//       points through WriteDataPoints: point i belongs to KPI i % K, the
//       points of each KPI evenly spread over the year before now (K KPIs
//       together: one point every year/N). Calls of B points (in messages of
//       --message_points), F calls in flight, built before the clock starts.
//       Prints ingest_* figures.
//   sightline-bench-metrics baseline --db=F --kpis=K --points=N --batch=B
//       The same rows into the service's own schema (its first migration) in
//       a fresh SQLite file: WAL, synchronous=FULL, one transaction per batch
//       of B, one prepared INSERT. Prints baseline_* figures.
//   sightline-bench-metrics query --target=A --token=T --owner=people/P
//       --points=N --batch=B --inflight=F --runs=R --buckets=M
//       Writes N points of one new KPI (bench-query) over the year before
//       now, then QueryKpi of the whole year in M buckets (hour-aligned start
//       and step) R times, one after another; every answer must count all N
//       points. Prints query_* figures.
//   sightline-bench-metrics status-body --target=A --token=T --kpi=ID --out=F
//       One GetKpiStatus (which must carry a value), then the framed request
//       h2load sends; prints response_frame_bytes.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/frame.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/testing/service.h"
#include "services/metrics/repository.h"
#include "services/metrics/sql_repository.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "", "The metrics service.");
ABSL_FLAG(std::string, token, "", "Bearer token (of --owner).");
ABSL_FLAG(std::string, owner, "", "people/{person}: owner of the KPIs.");
ABSL_FLAG(int, kpis, 4, "ingest, baseline: KPIs the points are spread over.");
ABSL_FLAG(int64_t, points, 1000000, "Points written.");
ABSL_FLAG(int, batch, 50000, "Points per call (baseline: per transaction).");
ABSL_FLAG(int, message_points, 10000, "Points per stream message.");
ABSL_FLAG(int, inflight, 4, "Write calls in flight.");
ABSL_FLAG(int, runs, 50, "query: QueryKpi calls.");
ABSL_FLAG(int, buckets, 100, "query: buckets per call.");
ABSL_FLAG(std::string, db, "", "baseline: a new SQLite file.");
ABSL_FLAG(std::string, kpi, "bench-k0", "status-body: the KPI id.");
ABSL_FLAG(std::string, out, "", "status-body: where the framed request goes.");
ABSL_FLAG(int64_t, now_micros, 0,
          "The end of the generated year (default: now, rounded down to the "
          "minute); ingest prints the one it used.");

namespace sightline::bench {
namespace {

namespace mv1 = ::sightline::metrics::v1;
using google::protobuf::util::TimeUtil;

constexpr int64_t kSecond = 1000000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kYear = 365 * 24 * kHour;

int Fail(const std::string& message) {
  std::fprintf(stderr, "sightline-bench-metrics: %s\n", message.c_str());
  return 1;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

int64_t EndOfYear() {
  int64_t now = absl::GetFlag(FLAGS_now_micros);
  if (now == 0) now = absl::ToUnixMicros(absl::Now());
  return now - now % (60 * kSecond);
}

// The generated points: point i of n belongs to KPI i % kpis; each KPI's
// points are evenly spread over the year ending at `end` (its last at `end`).
struct Rows {
  std::vector<std::string> ids;
  int64_t n = 0;
  int64_t end = 0;

  int64_t per_kpi() const {
    return (n + static_cast<int64_t>(ids.size()) - 1) /
           static_cast<int64_t>(ids.size());
  }
  int64_t gap() const { return std::max<int64_t>(kYear / per_kpi(), 1); }
  const std::string& kpi(int64_t i) const {
    return ids[static_cast<size_t>(i % static_cast<int64_t>(ids.size()))];
  }
  int64_t time(int64_t i) const {
    int64_t j = i / static_cast<int64_t>(ids.size());
    return end - (per_kpi() - 1 - j) * gap();
  }
  // Deterministic, 0..100, so that the means sit near a target of 50.
  static double value(int64_t i) {
    uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return static_cast<double>(x % 10001) / 100.0;
  }
};

std::shared_ptr<grpc::Channel> Channel(const std::string& target, int i) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Separate connections, not one shared subchannel.
  args.SetInt("sightline.bench.channel", i);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                   args);
}

int CreateKpi(mv1::MetricsService::Stub* stub, const std::string& id,
              int64_t end) {
  mv1::CreateKpiRequest req;
  req.set_kpi_id(id);
  auto* k = req.mutable_kpi();
  k->set_display_name(absl::StrCat("Bench ", id));
  k->set_owner_person(absl::GetFlag(FLAGS_owner));
  k->set_format(mv1::Kpi::NUMBER);
  k->set_direction(mv1::Kpi::HIGHER_IS_BETTER);
  k->set_aggregation(mv1::Kpi::MEAN);
  k->set_period(mv1::Kpi::DAY);
  *k->mutable_cadence() = TimeUtil::SecondsToDuration(3600);
  k->set_perspective(mv1::Kpi::CUSTOMER);
  k->set_visibility(mv1::PUBLIC);
  auto* t = k->add_targets();
  *t->mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(end - 2 * kYear);
  *t->mutable_end_time() = TimeUtil::MicrosecondsToTimestamp(end + kYear);
  t->set_value(50);
  t->set_amber_threshold(45);
  t->set_red_threshold(40);
  mv1::Kpi got;
  grpc::ClientContext ctx;
  testing::Authorize(&ctx, absl::GetFlag(FLAGS_token));
  grpc::Status st = stub->CreateKpi(&ctx, req, &got);
  if (!st.ok()) return Fail("CreateKpi " + id + ": " + st.error_message());
  return 0;
}

struct WriteResult {
  int64_t written = 0;
  int64_t calls = 0;
  double seconds = 0;
  std::vector<double> call_ms;
  std::string error;
};

// Streams rows [0, n) in calls of `batch` points, `inflight` calls at once.
WriteResult WriteAll(const std::string& target, const Rows& rows) {
  const int64_t batch = absl::GetFlag(FLAGS_batch);
  const int per_message = std::max(1, absl::GetFlag(FLAGS_message_points));
  const int inflight = std::max(1, absl::GetFlag(FLAGS_inflight));
  // Every call's messages, built before the clock starts.
  std::vector<std::vector<mv1::WriteDataPointsRequest>> calls;
  for (int64_t from = 0; from < rows.n; from += batch) {
    auto& msgs = calls.emplace_back();
    for (int64_t i = from; i < std::min(rows.n, from + batch); ++i) {
      if ((i - from) % per_message == 0) {
        msgs.emplace_back();
        msgs.back().mutable_points()->Reserve(per_message);
      }
      auto* p = msgs.back().add_points();
      p->set_kpi(absl::StrCat("kpis/", rows.kpi(i)));
      *p->mutable_time() = TimeUtil::MicrosecondsToTimestamp(rows.time(i));
      p->set_value(Rows::value(i));
      p->set_source("bench");
    }
  }
  std::vector<std::unique_ptr<mv1::MetricsService::Stub>> stubs;
  for (int i = 0; i < inflight; ++i)
    stubs.push_back(mv1::MetricsService::NewStub(Channel(target, i)));
  WriteResult r;
  std::mutex mu;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int w = 0; w < inflight; ++w) {
    workers.emplace_back([&, w] {
      for (size_t c = next++; c < calls.size(); c = next++) {
        grpc::ClientContext ctx;
        testing::Authorize(&ctx, absl::GetFlag(FLAGS_token),
                           absl::Seconds(600));
        mv1::WriteDataPointsResponse resp;
        absl::Time t0 = absl::Now();
        auto writer =
            stubs[static_cast<size_t>(w)]->WriteDataPoints(&ctx, &resp);
        for (const auto& m : calls[c]) {
          if (!writer->Write(m)) break;
        }
        writer->WritesDone();
        grpc::Status st = writer->Finish();
        double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
        std::lock_guard<std::mutex> lock(mu);
        r.call_ms.push_back(ms);
        ++r.calls;
        if (st.ok()) {
          r.written += resp.written();
        } else if (r.error.empty()) {
          r.error = absl::StrCat(st.error_code(), ": ", st.error_message());
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(r.call_ms.begin(), r.call_ms.end());
  return r;
}

int CheckFlags(bool service) {
  if (service && (absl::GetFlag(FLAGS_target).empty() ||
                  absl::GetFlag(FLAGS_token).empty() ||
                  absl::GetFlag(FLAGS_owner).empty()))
    return Fail("--target, --token and --owner must be set");
  if (absl::GetFlag(FLAGS_points) < 1 || absl::GetFlag(FLAGS_batch) < 1 ||
      absl::GetFlag(FLAGS_kpis) < 1)
    return Fail("--points, --batch and --kpis must be >= 1");
  return 0;
}

Rows IngestRows(int64_t end) {
  Rows rows;
  for (int k = 0; k < absl::GetFlag(FLAGS_kpis); ++k)
    rows.ids.push_back(absl::StrCat("bench-k", k));
  rows.n = absl::GetFlag(FLAGS_points);
  rows.end = end;
  return rows;
}

int Ingest() {
  if (int rc = CheckFlags(true); rc != 0) return rc;
  const std::string target = absl::GetFlag(FLAGS_target);
  const Rows rows = IngestRows(EndOfYear());
  auto stub = mv1::MetricsService::NewStub(Channel(target, 100));
  for (const auto& id : rows.ids)
    if (int rc = CreateKpi(stub.get(), id, rows.end); rc != 0) return rc;
  WriteResult r = WriteAll(target, rows);
  if (!r.error.empty()) return Fail("WriteDataPoints: " + r.error);
  if (r.written != rows.n)
    return Fail(absl::StrCat("written ", r.written, " of ", rows.n));
  std::printf("ingest_end_micros=%lld\n", static_cast<long long>(rows.end));
  std::printf("ingest_kpis=%zu\ningest_points=%lld\ningest_calls=%lld\n",
              rows.ids.size(), static_cast<long long>(r.written),
              static_cast<long long>(r.calls));
  std::printf("ingest_gap_s=%.1f\n", static_cast<double>(rows.gap()) / 1e6);
  std::printf("ingest_seconds=%.2f\ningest_points_per_s=%.0f\n", r.seconds,
              static_cast<double>(r.written) / r.seconds);
  std::printf("ingest_call_p50_ms=%.0f\ningest_call_max_ms=%.0f\n",
              Percentile(r.call_ms, 0.5), r.call_ms.back());
  return 0;
}

int Baseline() {
  if (int rc = CheckFlags(false); rc != 0) return rc;
  const std::string path = absl::GetFlag(FLAGS_db);
  if (path.empty()) return Fail("--db must be set");
  const Rows rows = IngestRows(EndOfYear());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return Fail("cannot open " + path);
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> owner(db, sqlite3_close);
  const std::string schema = metrics::MetricsMigrations().at(0).sqlite;
  for (const std::string& sql :
       {std::string("PRAGMA journal_mode=WAL"),
        std::string("PRAGMA synchronous=FULL"), schema}) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      return Fail(sqlite3_errmsg(db));
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO kpi_points (kpi_id, dim, time, value, "
                         "source) VALUES (?, '', ?, ?, 'bench')",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return Fail(sqlite3_errmsg(db));
  }
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt_owner(
      stmt, sqlite3_finalize);
  const int64_t batch = absl::GetFlag(FLAGS_batch);
  const absl::Time start = absl::Now();
  for (int64_t from = 0; from < rows.n; from += batch) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) !=
        SQLITE_OK)
      return Fail(sqlite3_errmsg(db));
    for (int64_t i = from; i < std::min(rows.n, from + batch); ++i) {
      const std::string& k = rows.kpi(i);
      sqlite3_bind_text(stmt, 1, k.data(), static_cast<int>(k.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(stmt, 2, rows.time(i));
      sqlite3_bind_double(stmt, 3, Rows::value(i));
      if (sqlite3_step(stmt) != SQLITE_DONE) return Fail(sqlite3_errmsg(db));
      sqlite3_reset(stmt);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
      return Fail(sqlite3_errmsg(db));
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("baseline_points=%lld\nbaseline_seconds=%.2f\n",
              static_cast<long long>(rows.n), secs);
  std::printf("baseline_points_per_s=%.0f\n",
              static_cast<double>(rows.n) / secs);
  return 0;
}

int Query() {
  if (int rc = CheckFlags(true); rc != 0) return rc;
  const std::string target = absl::GetFlag(FLAGS_target);
  const int runs = absl::GetFlag(FLAGS_runs);
  const int buckets = absl::GetFlag(FLAGS_buckets);
  if (runs < 1 || buckets < 1) return Fail("--runs and --buckets >= 1");
  Rows rows;
  rows.ids = {"bench-query"};
  rows.n = absl::GetFlag(FLAGS_points);
  rows.end = EndOfYear();
  auto stub = mv1::MetricsService::NewStub(Channel(target, 100));
  if (int rc = CreateKpi(stub.get(), rows.ids[0], rows.end); rc != 0) return rc;
  WriteResult w = WriteAll(target, rows);
  if (!w.error.empty()) return Fail("WriteDataPoints: " + w.error);
  if (w.written != rows.n)
    return Fail(absl::StrCat("written ", w.written, " of ", rows.n));

  // Hour-aligned start and step covering every point.
  const int64_t first = rows.time(0);
  const int64_t start = first - (first % kHour + kHour) % kHour;
  const int64_t span = rows.end + 1 - start;
  const int64_t step = (span / buckets / kHour + 1) * kHour;
  mv1::QueryKpiRequest req;
  req.set_kpi("kpis/bench-query");
  *req.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(start);
  *req.mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(start + step * buckets);
  *req.mutable_step() = TimeUtil::MicrosecondsToDuration(step);
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    mv1::QueryKpiResponse resp;
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, absl::GetFlag(FLAGS_token), absl::Seconds(60));
    absl::Time t0 = absl::Now();
    grpc::Status st = stub->QueryKpi(&ctx, req, &resp);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!st.ok()) return Fail("QueryKpi: " + st.error_message());
    int64_t counted = 0;
    int got = 0;
    for (const auto& s : resp.series()) {
      for (const auto& b : s.buckets()) {
        counted += b.count();
        ++got;
      }
    }
    if (counted != rows.n || got != buckets) {
      return Fail(absl::StrCat("QueryKpi counted ", counted, " points in ", got,
                               " buckets; expected ", rows.n, " in ", buckets));
    }
  }
  std::sort(ms.begin(), ms.end());
  std::printf("query_write_points_per_s=%.0f\nquery_write_seconds=%.2f\n",
              static_cast<double>(w.written) / w.seconds, w.seconds);
  std::printf("query_points=%lld\nquery_buckets=%d\nquery_step_hours=%lld\n",
              static_cast<long long>(rows.n), buckets,
              static_cast<long long>(step / kHour));
  std::printf("query_runs=%d\nquery_p50_ms=%.2f\nquery_p99_ms=%.2f\n", runs,
              Percentile(ms, 0.5), Percentile(ms, 0.99));
  std::printf("query_max_ms=%.2f\n", ms.back());
  return 0;
}

int StatusBody() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string path = absl::GetFlag(FLAGS_out);
  if (target.empty() || path.empty())
    return Fail("--target and --out must be set");
  auto stub = mv1::MetricsService::NewStub(Channel(target, 100));
  mv1::GetKpiStatusRequest req;
  req.set_name(absl::StrCat("kpis/", absl::GetFlag(FLAGS_kpi)));
  mv1::KpiStatus status;
  grpc::ClientContext ctx;
  testing::Authorize(&ctx, absl::GetFlag(FLAGS_token));
  grpc::Status st = stub->GetKpiStatus(&ctx, req, &status);
  if (!st.ok()) return Fail("GetKpiStatus: " + st.error_message());
  if (!status.has_value() || status.stale())
    return Fail("GetKpiStatus: no fresh value: " + status.ShortDebugString());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << Frame(req);
  f.close();
  if (!f) return Fail("cannot write " + path);
  std::printf("status=%s\nvalue=%.2f\nresponse_frame_bytes=%zu\n",
              mv1::KpiStatus::Status_Name(status.status()).c_str(),
              status.value(), Frame(status).size());
  return 0;
}

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sightline-bench-metrics ingest | baseline | query | status-body (see "
      "the source)");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string step = args.size() > 1 ? args[1] : "";
  if (step == "ingest") return sightline::bench::Ingest();
  if (step == "baseline") return sightline::bench::Baseline();
  if (step == "query") return sightline::bench::Query();
  if (step == "status-body") return sightline::bench::StatusBody();
  return sightline::bench::Fail(
      "which step? ingest, baseline, query, status-body");
}
