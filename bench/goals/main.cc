// sightline-bench-goals: the goals measures of `make bench`, against a goals
// service loaded by sightline-bench-goals-load.
//
//   sightline-bench-goals goal-body --target=A --token=T --goal=ID --out=F
//       the framed GetGoalRequest h2load sends, after one real GetGoal; prints
//       response_frame_bytes (h2load's answers are counted by their bytes).
//   sightline-bench-goals tree --target=A --token=T --cycle=C --depth=D
//       --runs=N --expect_nodes=M
//       GetAlignmentTree of every COMPANY goal of the cycle (D levels below
//       them; 0 = all), N times one after another; every run must stream
//       exactly M nodes. Prints tree_* timings (ms).
//   sightline-bench-goals check-ins --target=A --jwt_key_file=K --leaves=F
//       --rate=R --seconds=S
//       CreateCheckIn at a fixed rate (open loop: each call is sent at its
//       planned time whatever the earlier ones do, and its latency counts
//       from that planned time, so a stall shows up in the percentiles
//       instead of slowing the sender), each by the goal's owner, moving one
//       key result of a lowest-level goal, whose roll-up then moves every
//       ancestor up to the company goal. Every call must succeed.
//       With --inflight=K instead of --rate: K calls kept in flight for S
//       seconds (the most the service sustains). --target may list several
//       replicas (A1,A2,...): the connections (--channels, at least one per
//       replica) are spread over them and calls go to each in turn. Prints
//       checkins_codes (failed calls by status code) and checkins_aborted;
//       with --keep_going a failed call is counted, not a failure of the step.
//   sightline-bench-goals commits --db=F --rate=R --seconds=S
//       the baseline of the check-in latency on the same disk: durable SQLite
//       commits of one 4 KiB row each at the same rate, open loop. Prints
//       commits_p50_ms and commits_p99_ms.
//   sightline-bench-goals kpi-follow --target=A --metrics_target=M
//       --people_target=P --jwt_key_file=K --kpis=N --links=L --rate=R
//       --seconds=S --settle=W [--write_target=M2 --kpi_prefix=X]
//       How soon a key result follows its KPI, with a goals service started
//       with --metrics_service_address=M. Creates a cycle, N PUBLIC KPIs (LAST
//       of their points) and, for each, L goals of L different active people
//       of P, each with one key result linked to the KPI. Watches the goals
//       service's WatchGoals (one stream, service token), then writes one
//       point per BatchWriteDataPoints call at R calls/s for S s (open loop),
//       point i to KPI i % N with the next value of that KPI (1, 2, 3...).
//       A point's latency runs from the write's answer (its commit) until
//       every key result linked to its KPI has shown, in a key result change
//       on the stream, that value or a later one of the same KPI (when the
//       follower is behind, one check-in may take in several points, as
//       anybody reading the key result would see). One point per KPI first,
//       not counted, opens every connection. Waits at most W s after the last
//       answer; a point whose key results never moved fails the step. Prints
//       kpi_follow_* figures. With --write_target, the points go to another
//       replica of the metrics service (same database): the goals service's
//       feed then sees them by polling.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/codes.h"
#include "bench/frame.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/auth/jwt.h"
#include "lib/testing/service.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "The goals service; check-ins: replicas separated by commas.");
ABSL_FLAG(std::string, db, "", "commits: a new SQLite file for the baseline.");
ABSL_FLAG(std::string, token, "", "goal-body, tree: bearer token.");
ABSL_FLAG(std::string, goal, "", "goal-body: the goal id.");
ABSL_FLAG(std::string, out, "", "goal-body: where the framed request goes.");
ABSL_FLAG(std::string, cycle, "", "tree: the cycle id.");
ABSL_FLAG(int, depth, 0, "tree: levels below the company goals; 0 = all.");
ABSL_FLAG(int, runs, 20, "tree: calls, one after another.");
ABSL_FLAG(int, expect_nodes, 0, "tree: nodes every call must stream.");
ABSL_FLAG(std::string, jwt_key_file, "", "check-ins: the HS256 secret.");
ABSL_FLAG(std::string, leaves, "",
          "check-ins: lines `goal owner key_result...` (from the loader).");
ABSL_FLAG(double, rate, 500, "check-ins: calls per second (open loop).");
ABSL_FLAG(int, inflight, 0, "check-ins: closed loop with this many in flight.");
ABSL_FLAG(double, seconds, 10, "check-ins: how long.");
ABSL_FLAG(int, channels, 4,
          "check-ins: connections (at least one per replica).");
ABSL_FLAG(bool, keep_going, false,
          "check-ins: count failed calls by code instead of failing the step.");
ABSL_FLAG(uint64_t, seed, 7, "check-ins: seed of the goals and values.");
ABSL_FLAG(std::string, metrics_target, "", "kpi-follow: the metrics service.");
ABSL_FLAG(std::string, people_target, "", "kpi-follow: the people service.");
ABSL_FLAG(std::string, write_target, "",
          "kpi-follow: where the points are written (default: "
          "--metrics_target; another replica of it shows the delay between "
          "replicas).");
ABSL_FLAG(std::string, kpi_prefix, "follow",
          "kpi-follow: the KPIs' ids are PREFIX-k0, PREFIX-k1...");
ABSL_FLAG(int, kpis, 20, "kpi-follow: KPIs the points go to.");
ABSL_FLAG(int, links, 3,
          "kpi-follow: key results (of as many owners) per KPI.");
ABSL_FLAG(double, settle, 30,
          "kpi-follow: seconds to wait after the last write for the key "
          "results still behind.");

namespace sightline::bench {
namespace {

namespace gv1 = ::sightline::goals::v1;
namespace mv1 = ::sightline::metrics::v1;
namespace pv1 = ::sightline::people::v1;

int Fail(const std::string& message) {
  std::fprintf(stderr, "sightline-bench-goals: %s\n", message.c_str());
  return 1;
}

std::unique_ptr<gv1::GoalService::Stub> NewStub(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Separate connections, not one shared subchannel.
  args.SetInt("sightline.bench.channel", static_cast<int>(std::rand()));
  return gv1::GoalService::NewStub(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));
}

// p in [0, 1] of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

int GoalBody() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string path = absl::GetFlag(FLAGS_out);
  if (target.empty() || path.empty() || absl::GetFlag(FLAGS_goal).empty())
    return Fail("--target, --goal and --out must be set");
  auto stub = NewStub(target);
  gv1::GetGoalRequest req;
  req.set_name("goals/" + absl::GetFlag(FLAGS_goal));
  gv1::Goal goal;
  grpc::ClientContext ctx;
  testing::Authorize(&ctx, absl::GetFlag(FLAGS_token));
  grpc::Status st = stub->GetGoal(&ctx, req, &goal);
  if (!st.ok()) return Fail("GetGoal: " + st.error_message());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << Frame(req);
  f.close();
  if (!f) return Fail("cannot write " + path);
  std::printf("name=%s\nresponse_frame_bytes=%zu\n", goal.name().c_str(),
              Frame(goal).size());
  return 0;
}

int Tree() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const int runs = absl::GetFlag(FLAGS_runs);
  const int expect = absl::GetFlag(FLAGS_expect_nodes);
  if (target.empty() || absl::GetFlag(FLAGS_cycle).empty() || runs < 1 ||
      expect < 1) {
    return Fail("--target, --cycle, --runs >= 1 and --expect_nodes >= 1");
  }
  auto stub = NewStub(target);
  gv1::GetAlignmentTreeRequest req;
  req.set_company(true);
  req.set_cycle("cycles/" + absl::GetFlag(FLAGS_cycle));
  req.set_depth(absl::GetFlag(FLAGS_depth));
  std::vector<double> ms;
  int chunks = 0, restricted = 0;
  size_t bytes = 0;
  for (int r = 0; r < runs; ++r) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, absl::GetFlag(FLAGS_token), absl::Seconds(60));
    absl::Time start = absl::Now();
    auto reader = stub->GetAlignmentTree(&ctx, req);
    gv1::AlignmentTreeChunk chunk;
    int nodes = 0;
    chunks = 0;
    restricted = 0;
    bytes = 0;
    while (reader->Read(&chunk)) {
      ++chunks;
      nodes += chunk.nodes_size();
      bytes += chunk.ByteSizeLong();
      for (const auto& n : chunk.nodes()) restricted += n.restricted();
    }
    grpc::Status st = reader->Finish();
    double elapsed = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (!st.ok()) return Fail("GetAlignmentTree: " + st.error_message());
    if (nodes != expect) {
      return Fail(absl::StrCat("GetAlignmentTree streamed ", nodes,
                               " nodes, expected ", expect));
    }
    ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("tree_nodes=%d\ntree_chunks=%d\ntree_bytes=%zu\n", expect, chunks,
              bytes);
  std::printf("tree_restricted_nodes=%d\ntree_runs=%d\n", restricted, runs);
  std::printf("tree_min_ms=%.2f\ntree_p50_ms=%.2f\ntree_p90_ms=%.2f\n", ms[0],
              Percentile(ms, 0.5), Percentile(ms, 0.9));
  std::printf("tree_max_ms=%.2f\n", ms.back());
  return 0;
}

struct Leaf {
  std::string goal;
  std::string owner;
  std::vector<std::string> key_results;
};

// One check-in call, alive until its callback ran.
struct Call {
  grpc::ClientContext ctx;
  gv1::CreateCheckInRequest req;
  gv1::CheckIn resp;
  absl::Time planned;
};

class CheckInRun {
 public:
  int Run() {
    const std::string target = absl::GetFlag(FLAGS_target);
    const double seconds = absl::GetFlag(FLAGS_seconds);
    const double rate = absl::GetFlag(FLAGS_rate);
    const int inflight = absl::GetFlag(FLAGS_inflight);
    if (target.empty() || seconds <= 0 || (inflight <= 0 && rate <= 0))
      return Fail("--target, --seconds > 0, and --rate > 0 or --inflight > 0");
    if (int rc = ReadLeaves(); rc != 0) return rc;
    if (int rc = MintTokens(); rc != 0) return rc;
    const std::vector<std::string> targets = Targets(target);
    if (targets.empty()) return Fail("--target: no address");
    const int channels = std::max(absl::GetFlag(FLAGS_channels),
                                  static_cast<int>(targets.size()));
    for (int i = 0; i < channels; ++i)
      stubs_.push_back(
          NewStub(targets[static_cast<size_t>(i) % targets.size()]));

    const absl::Time start = absl::Now() + absl::Milliseconds(100);
    const absl::Time end = start + absl::Seconds(seconds);
    if (inflight > 0) {
      // Closed loop: each completion sends the next until the end.
      end_ = end;
      for (int i = 0; i < inflight; ++i) Send(absl::Now());
    } else {
      const absl::Duration gap = absl::Seconds(1.0 / rate);
      const int64_t n = static_cast<int64_t>(seconds * rate);
      for (int64_t i = 0; i < n; ++i) {
        absl::Time planned = start + gap * i;
        absl::Duration wait = planned - absl::Now();
        if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
        Send(planned);
      }
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return sent_ == done_ && (inflight == 0 || absl::Now() >= end_);
      });
    }
    const double wall = absl::ToDoubleSeconds(last_done_ - start);
    std::sort(ms_.begin(), ms_.end());
    std::printf("checkins_sent=%lld\ncheckins_ok=%lld\ncheckins_failed=%lld\n",
                static_cast<long long>(sent_), static_cast<long long>(ok_),
                static_cast<long long>(sent_ - ok_));
    std::printf("checkins_per_s=%.0f\n", static_cast<double>(ok_) / wall);
    std::printf(
        "checkins_p50_ms=%.2f\ncheckins_p99_ms=%.2f\ncheckins_max_ms=%.2f\n",
        Percentile(ms_, 0.5), Percentile(ms_, 0.99),
        ms_.empty() ? 0.0 : ms_.back());
    PrintCodes("checkins", failed_);
    if (!first_error_.empty()) {
      std::fprintf(stderr, "first error: %s\n", first_error_.c_str());
      return absl::GetFlag(FLAGS_keep_going) && ok_ > 0 ? 0 : 1;
    }
    return 0;
  }

 private:
  int ReadLeaves() {
    std::ifstream in(absl::GetFlag(FLAGS_leaves));
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 3) continue;
      leaves_.push_back({f[0], f[1], {f.begin() + 2, f.end()}});
    }
    if (leaves_.empty()) return Fail("--leaves: no goals read");
    return 0;
  }

  int MintTokens() {
    auto key = auth::ReadKeyFile(absl::GetFlag(FLAGS_jwt_key_file));
    if (!key.ok()) return Fail(std::string(key.status().message()));
    for (const auto& l : leaves_) {
      if (tokens_.contains(l.owner)) continue;
      auth::MintOptions m;
      m.key = *key;
      m.subject = "people/" + l.owner;
      m.roles = {auth::Role::kEmployee};
      m.ttl = absl::Hours(2);
      auto t = auth::Mint(m);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      tokens_[l.owner] = *t;
    }
    return 0;
  }

  void Send(absl::Time planned) {
    auto* call = new Call();
    call->planned = planned;
    int64_t seq;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seq = sent_++;
    }
    const Leaf* leaf;
    double value;
    {
      std::lock_guard<std::mutex> lock(rng_mu_);
      leaf = &leaves_[rng_() % leaves_.size()];
      value = static_cast<double>(rng_() % 1000) / 10.0;
    }
    call->req.set_parent("goals/" + leaf->goal);
    call->req.set_request_id(absl::StrCat("bench-", run_id_, "-", seq));
    auto* ci = call->req.mutable_check_in();
    auto* v = ci->add_values();
    v->set_key_result(
        absl::StrCat("goals/", leaf->goal, "/keyResults/",
                     leaf->key_results[static_cast<size_t>(seq) %
                                       leaf->key_results.size()]));
    v->set_value(value);
    ci->set_confidence(0.7);
    ci->set_status(gv1::ON_TRACK);
    ci->set_note("weekly check-in");
    testing::Authorize(&call->ctx, tokens_.at(leaf->owner), absl::Seconds(30));
    auto& stub = stubs_[static_cast<size_t>(seq) % stubs_.size()];
    stub->async()->CreateCheckIn(
        &call->ctx, &call->req, &call->resp,
        [this, call](grpc::Status st) { Done(call, st); });
  }

  void Done(Call* call, const grpc::Status& st) {
    absl::Time now = absl::Now();
    double ms = absl::ToDoubleMilliseconds(now - call->planned);
    bool more = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++done_;
      last_done_ = std::max(last_done_, now);
      ms_.push_back(ms);
      if (st.ok()) {
        ++ok_;
      } else {
        ++failed_[st.error_code()];
        if (first_error_.empty())
          first_error_ =
              absl::StrCat(CodeName(st.error_code()), ": ", st.error_message());
      }
      more = end_ != absl::InfinitePast() && now < end_;
    }
    delete call;
    if (more) {
      Send(now);
      return;
    }
    cv_.notify_all();
  }

  std::vector<Leaf> leaves_;
  absl::flat_hash_map<std::string, std::string> tokens_;
  std::vector<std::unique_ptr<gv1::GoalService::Stub>> stubs_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_{absl::GetFlag(FLAGS_seed)};
  const int64_t run_id_ = absl::ToUnixMicros(absl::Now());
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t sent_ = 0, done_ = 0, ok_ = 0;
  absl::Time last_done_ = absl::InfinitePast();
  absl::Time end_ = absl::InfinitePast();
  std::vector<double> ms_;
  std::map<grpc::StatusCode, int64_t> failed_;
  std::string first_error_;
};

// The baseline of the check-in latency, measured on the same disk in the same
// run: durable SQLite commits (WAL, synchronous=FULL, as the services run it)
// of one 4 KiB row each, at the same fixed rate, open loop.
int Commits() {
  const std::string path = absl::GetFlag(FLAGS_db);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const double rate = absl::GetFlag(FLAGS_rate);
  if (path.empty() || seconds <= 0 || rate <= 0)
    return Fail("--db, --seconds > 0 and --rate > 0");
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return Fail("cannot open " + path);
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> owner(db, sqlite3_close);
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
        "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)"}) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      return Fail(sqlite3_errmsg(db));
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?)", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return Fail(sqlite3_errmsg(db));
  }
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt_owner(
      stmt, sqlite3_finalize);
  const std::string row(4096, 'x');
  const absl::Duration gap = absl::Seconds(1.0 / rate);
  const int64_t n = static_cast<int64_t>(seconds * rate);
  const absl::Time start = absl::Now();
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const absl::Time planned = start + gap * i;
    const absl::Duration wait = planned - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    sqlite3_bind_blob(stmt, 1, row.data(), static_cast<int>(row.size()),
                      SQLITE_STATIC);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) !=
            SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE ||
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Fail(sqlite3_errmsg(db));
    }
    sqlite3_reset(stmt);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - planned));
  }
  std::sort(ms.begin(), ms.end());
  std::printf("commits=%lld\ncommits_p50_ms=%.2f\ncommits_p99_ms=%.2f\n",
              static_cast<long long>(n), Percentile(ms, 0.5),
              Percentile(ms, 0.99));
  return 0;
}

// --- kpi-follow -------------------------------------------------------------

using google::protobuf::util::TimeUtil;

std::string MintToken(const std::string& subject, auth::Role role) {
  auto key = auth::ReadKeyFile(absl::GetFlag(FLAGS_jwt_key_file));
  if (!key.ok()) return "";
  auth::MintOptions m;
  m.key = *key;
  m.subject = subject;
  m.roles = {role};
  m.ttl = absl::Hours(2);
  auto t = auth::Mint(m);
  return t.ok() ? *t : "";
}

std::string Describe(const grpc::Status& st) {
  return absl::StrCat(st.error_code(), ": ", st.error_message());
}

class KpiFollowRun {
 public:
  int Run() {
    const std::string target = absl::GetFlag(FLAGS_target);
    const std::string metrics_target = absl::GetFlag(FLAGS_metrics_target);
    const std::string people_target = absl::GetFlag(FLAGS_people_target);
    kpis_ = absl::GetFlag(FLAGS_kpis);
    links_ = absl::GetFlag(FLAGS_links);
    const double rate = absl::GetFlag(FLAGS_rate);
    const double seconds = absl::GetFlag(FLAGS_seconds);
    const double settle = absl::GetFlag(FLAGS_settle);
    if (target.empty() || metrics_target.empty() || people_target.empty() ||
        kpis_ < 1 || links_ < 1 || rate <= 0 || seconds <= 0 || settle <= 0) {
      return Fail(
          "--target, --metrics_target, --people_target, --kpis >= 1, "
          "--links >= 1, --rate > 0, --seconds > 0 and --settle > 0");
    }
    service_token_ = MintToken("bench-kpi-follow", auth::Role::kService);
    if (service_token_.empty()) return Fail("cannot mint a token");
    goals_ = NewStub(target);
    metrics_ = mv1::MetricsService::NewStub(grpc::CreateChannel(
        metrics_target, grpc::InsecureChannelCredentials()));
    std::string write_target = absl::GetFlag(FLAGS_write_target);
    if (write_target.empty()) write_target = metrics_target;
    writes_ = mv1::MetricsService::NewStub(
        grpc::CreateChannel(write_target, grpc::InsecureChannelCredentials()));
    people_ = pv1::PeopleService::NewStub(
        grpc::CreateChannel(people_target, grpc::InsecureChannelCredentials()));
    if (int rc = Setup(); rc != 0) return rc;

    // Every point, built before the clock starts: one per KPI to warm up,
    // then the measured ones.
    const int64_t n = static_cast<int64_t>(seconds * rate);
    std::vector<int> next(static_cast<size_t>(kpis_), 1);
    for (int64_t i = 0; i < kpis_ + n; ++i) {
      Point p;
      p.kpi = static_cast<int>(i % kpis_);
      p.value = next[static_cast<size_t>(p.kpi)]++;
      points_.push_back(p);
    }
    if (int rc = OpenWatch(absl::Seconds(seconds + 3 * settle + 300));
        rc != 0) {
      return rc;
    }

    // Warm-up: connections from goals to metrics, the follower's stream,
    // the statements of both services.
    for (int k = 0; k < kpis_; ++k) Send(static_cast<size_t>(k), absl::Now());
    if (!WaitWritten(kpis_) || !first_error_.empty())
      return Finish(Fail("warm-up write: " + first_error_));
    if (!WaitCaughtUp(absl::Now() + absl::Seconds(settle))) {
      return Finish(
          Fail("warm-up: a key result never showed its KPI's first point"));
    }

    const absl::Time start = absl::Now() + absl::Milliseconds(100);
    const absl::Duration gap = absl::Seconds(1.0 / rate);
    for (int64_t i = 0; i < n; ++i) {
      const absl::Time planned = start + gap * i;
      const absl::Duration wait = planned - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      Send(static_cast<size_t>(kpis_ + i), planned);
    }
    WaitWritten(static_cast<int64_t>(points_.size()));
    absl::Time last_answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_answer = last_answer_;
    }
    WaitCaughtUp(last_answer + absl::Seconds(settle));
    const double offered_s = absl::ToDoubleSeconds(last_sent_ - start);
    StopWatch();
    return Report(n, offered_s);
  }

 private:
  struct Point {
    int kpi = 0;
    double value = 0;
    absl::Time planned;
    absl::Time answered;
    bool ok = false;
  };
  // One write call, alive until its callback ran.
  struct WriteCall {
    grpc::ClientContext ctx;
    mv1::BatchWriteDataPointsRequest req;
    mv1::WriteDataPointsResponse resp;
    size_t point = 0;
  };
  // What the stream showed of one key result: (arrival, current) in order.
  struct Seen {
    std::vector<std::pair<absl::Time, double>> changes;
    double max = 0;
  };

  // A cycle around today, the KPIs, and kpis x links goals of as many active
  // people, each goal created by its owner with one linked key result.
  int Setup() {
    std::vector<std::string> people;
    pv1::ListPeopleRequest list;
    list.set_status(pv1::Person::ACTIVE);
    list.set_page_size(1000);
    const size_t want = static_cast<size_t>(kpis_) * links_;
    while (people.size() < want) {
      pv1::ListPeopleResponse resp;
      grpc::ClientContext ctx;
      testing::Authorize(&ctx, service_token_);
      if (auto st = people_->ListPeople(&ctx, list, &resp); !st.ok())
        return Fail("ListPeople: " + Describe(st));
      for (const auto& p : resp.people()) people.push_back(p.name());
      if (resp.next_page_token().empty()) break;
      list.set_page_token(resp.next_page_token());
    }
    if (people.size() < want) {
      return Fail(absl::StrCat("need ", want, " active people, the org has ",
                               people.size()));
    }

    const absl::CivilDay today =
        absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    gv1::CreateCycleRequest cycle_req;
    cycle_req.mutable_cycle()->set_display_name("KPI follow bench");
    cycle_req.mutable_cycle()->set_start_date(
        absl::FormatCivilTime(today - 30));
    cycle_req.mutable_cycle()->set_end_date(absl::FormatCivilTime(today + 60));
    cycle_req.mutable_cycle()->set_state(gv1::Cycle::ACTIVE);
    gv1::Cycle cycle;
    {
      grpc::ClientContext ctx;
      testing::Authorize(&ctx, service_token_);
      if (auto st = goals_->CreateCycle(&ctx, cycle_req, &cycle); !st.ok())
        return Fail("CreateCycle: " + Describe(st));
    }

    kpi_krs_.resize(static_cast<size_t>(kpis_));
    for (int k = 0; k < kpis_; ++k) {
      mv1::CreateKpiRequest req;
      req.set_kpi_id(absl::StrCat(absl::GetFlag(FLAGS_kpi_prefix), "-k", k));
      mv1::Kpi* kpi = req.mutable_kpi();
      kpi->set_display_name(absl::StrCat("Follow ", k));
      kpi->set_owner_person(people[0]);
      kpi->set_format(mv1::Kpi::NUMBER);
      kpi->set_direction(mv1::Kpi::HIGHER_IS_BETTER);
      // The value over a goal's period is the latest point: each point
      // written is the key result's next value.
      kpi->set_aggregation(mv1::Kpi::LAST);
      kpi->set_period(mv1::Kpi::DAY);
      kpi->set_perspective(mv1::Kpi::CUSTOMER);
      kpi->set_visibility(mv1::PUBLIC);
      mv1::Kpi out;
      grpc::ClientContext ctx;
      testing::Authorize(&ctx, service_token_);
      if (auto st = metrics_->CreateKpi(&ctx, req, &out); !st.ok())
        return Fail("CreateKpi: " + Describe(st));
      kpi_names_.push_back(out.name());

      for (int l = 0; l < links_; ++l) {
        const std::string& owner =
            people[static_cast<size_t>(k) * links_ + static_cast<size_t>(l)];
        const std::string token = MintToken(owner, auth::Role::kEmployee);
        gv1::CreateGoalRequest goal_req;
        gv1::Goal* g = goal_req.mutable_goal();
        g->set_title(absl::StrCat("Move KPI ", k));
        g->set_owner(owner);
        g->set_level(gv1::INDIVIDUAL);
        g->set_cycle(cycle.name());
        g->set_visibility(gv1::Goal::PUBLIC);
        gv1::KeyResult* kr = goal_req.add_key_results();
        kr->set_title(absl::StrCat("Follow ", k));
        kr->set_measure(gv1::KeyResult::NUMBER);
        kr->set_direction(gv1::KeyResult::INCREASE);
        kr->set_baseline(0);
        kr->set_target(1e6);
        kr->set_current(0);
        kr->set_kpi(out.name());
        gv1::Goal goal;
        {
          grpc::ClientContext ctx;
          testing::Authorize(&ctx, token);
          if (auto st = goals_->CreateGoal(&ctx, goal_req, &goal); !st.ok())
            return Fail("CreateGoal: " + Describe(st));
        }
        gv1::ListKeyResultsRequest krs_req;
        krs_req.set_parent(goal.name());
        gv1::ListKeyResultsResponse krs;
        grpc::ClientContext ctx;
        testing::Authorize(&ctx, token);
        if (auto st = goals_->ListKeyResults(&ctx, krs_req, &krs); !st.ok())
          return Fail("ListKeyResults: " + Describe(st));
        if (krs.key_results_size() != 1)
          return Fail("the new goal has no key result");
        kr_index_[krs.key_results(0).name()] = seen_.size();
        kpi_krs_[static_cast<size_t>(k)].push_back(seen_.size());
        seen_.emplace_back();
      }
    }
    return 0;
  }

  // One WatchGoals stream from now; key result changes are recorded as they
  // arrive.
  int OpenWatch(absl::Duration lifetime) {
    testing::Authorize(&watch_ctx_, service_token_, lifetime);
    watch_ = goals_->WatchGoals(&watch_ctx_, gv1::WatchGoalsRequest());
    // Headers come once the stream is positioned.
    watch_->WaitForInitialMetadata();
    watch_thread_ = std::thread([this] {
      gv1::WatchGoalsResponse msg;
      while (watch_->Read(&msg)) {
        if (!msg.has_key_result()) continue;
        const absl::Time now = absl::Now();
        std::lock_guard<std::mutex> lock(mu_);
        auto it = kr_index_.find(msg.key_result().name());
        if (it == kr_index_.end()) continue;
        Seen& s = seen_[it->second];
        s.changes.emplace_back(now, msg.key_result().current());
        s.max = std::max(s.max, msg.key_result().current());
        cv_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu_);
      watch_ended_ = true;
      cv_.notify_all();
    });
    return 0;
  }

  void StopWatch() {
    if (!watch_thread_.joinable()) return;
    watch_ctx_.TryCancel();
    watch_thread_.join();
    watch_stream_status_ = watch_->Finish();
  }

  int Finish(int rc) {
    StopWatch();
    return rc;
  }

  void Send(size_t i, absl::Time planned) {
    Point& p = points_[i];
    p.planned = planned;
    auto* call = new WriteCall();
    call->point = i;
    mv1::DataPoint* dp = call->req.add_points();
    dp->set_kpi(kpi_names_[static_cast<size_t>(p.kpi)]);
    // Later points of a KPI are later in time: LAST is the newest value.
    *dp->mutable_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(planned));
    dp->set_value(p.value);
    dp->set_source("bench-kpi-follow");
    call->req.set_request_id(absl::StrCat("kpi-follow-", run_id_, "-", i));
    testing::Authorize(&call->ctx, service_token_, absl::Seconds(30));
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++sent_;
      last_sent_ = absl::Now();
    }
    writes_->async()->BatchWriteDataPoints(
        &call->ctx, &call->req, &call->resp,
        [this, call](grpc::Status st) { Written(call, st); });
  }

  void Written(WriteCall* call, const grpc::Status& st) {
    const absl::Time now = absl::Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      Point& p = points_[call->point];
      p.answered = now;
      p.ok = st.ok() && call->resp.written() == 1;
      if (!p.ok && first_error_.empty()) {
        first_error_ = st.ok() ? absl::StrCat("written ", call->resp.written())
                               : Describe(st);
      }
      ++answered_;
      last_answer_ = std::max(last_answer_, now);
    }
    cv_.notify_all();
    delete call;
  }

  // Until `count` writes were answered (their deadline bounds the wait).
  bool WaitWritten(int64_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return answered_ >= count; });
    return true;
  }

  // Until every key result shows the newest value written to its KPI, the
  // stream ends, or `deadline`.
  bool WaitCaughtUp(absl::Time deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    auto caught_up = [&] {
      std::vector<double> newest(static_cast<size_t>(kpis_), 0);
      for (const Point& p : points_) {
        if (p.ok) {
          auto& v = newest[static_cast<size_t>(p.kpi)];
          v = std::max(v, p.value);
        }
      }
      for (int k = 0; k < kpis_; ++k) {
        for (size_t kr : kpi_krs_[static_cast<size_t>(k)]) {
          if (seen_[kr].max < newest[static_cast<size_t>(k)]) return false;
        }
      }
      return true;
    };
    return cv_.wait_until(lock, absl::ToChronoTime(deadline), [&] {
      return watch_ended_ || caught_up();
    }) && caught_up();
  }

  int Report(int64_t n, double offered_s) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<double> from_answer, from_send, write_ms;
    int64_t written = 0, failed = 0, missing = 0, changes = 0;
    for (const Seen& s : seen_)
      changes += static_cast<int64_t>(s.changes.size());
    for (size_t i = static_cast<size_t>(kpis_); i < points_.size(); ++i) {
      const Point& p = points_[i];
      write_ms.push_back(absl::ToDoubleMilliseconds(p.answered - p.planned));
      if (!p.ok) {
        ++failed;
        continue;
      }
      ++written;
      // When every linked key result first showed this value or a later one.
      absl::Time moved = absl::InfinitePast();
      for (size_t kr : kpi_krs_[static_cast<size_t>(p.kpi)]) {
        const auto& ch = seen_[kr].changes;
        auto it = std::find_if(ch.begin(), ch.end(), [&](const auto& c) {
          return c.second >= p.value;
        });
        if (it == ch.end()) {
          moved = absl::InfiniteFuture();
          break;
        }
        moved = std::max(moved, it->first);
      }
      if (moved == absl::InfiniteFuture()) {
        ++missing;
        continue;
      }
      // The stream can deliver the change before the writer has read its
      // answer: the key result moved no later than the answer arrived.
      from_answer.push_back(
          std::max(0.0, absl::ToDoubleMilliseconds(moved - p.answered)));
      from_send.push_back(absl::ToDoubleMilliseconds(moved - p.planned));
    }
    std::sort(from_answer.begin(), from_answer.end());
    std::sort(from_send.begin(), from_send.end());
    std::sort(write_ms.begin(), write_ms.end());
    std::printf("kpi_follow_kpis=%d\nkpi_follow_key_results=%zu\n", kpis_,
                seen_.size());
    std::printf("kpi_follow_points=%lld\nkpi_follow_written=%lld\n",
                static_cast<long long>(n), static_cast<long long>(written));
    std::printf("kpi_follow_write_failed=%lld\nkpi_follow_missing=%lld\n",
                static_cast<long long>(failed),
                static_cast<long long>(missing));
    std::printf("kpi_follow_offered_per_s=%.1f\n",
                offered_s > 0 ? static_cast<double>(n - 1) / offered_s : 0.0);
    std::printf("kpi_follow_key_result_changes=%lld\n",
                static_cast<long long>(changes));
    std::printf(
        "kpi_follow_p50_ms=%.2f\nkpi_follow_p90_ms=%.2f\nkpi_follow_p99_ms=%."
        "2f\nkpi_follow_max_ms=%.2f\n",
        Percentile(from_answer, 0.5), Percentile(from_answer, 0.9),
        Percentile(from_answer, 0.99),
        from_answer.empty() ? 0.0 : from_answer.back());
    std::printf("kpi_follow_from_send_p99_ms=%.2f\n",
                Percentile(from_send, 0.99));
    std::printf("kpi_follow_write_p50_ms=%.2f\nkpi_follow_write_p99_ms=%.2f\n",
                Percentile(write_ms, 0.5), Percentile(write_ms, 0.99));
    if (failed > 0) {
      std::fprintf(stderr, "%lld writes failed; first: %s\n",
                   static_cast<long long>(failed), first_error_.c_str());
      return 1;
    }
    if (missing > 0) {
      std::fprintf(stderr,
                   "%lld points never reached their key results (%.0f s "
                   "after the last write; watch stream: %s)\n",
                   static_cast<long long>(missing), absl::GetFlag(FLAGS_settle),
                   watch_stream_status_.error_message().c_str());
      return 1;
    }
    return 0;
  }

  int kpis_ = 0;
  int links_ = 0;
  std::string service_token_;
  std::unique_ptr<gv1::GoalService::Stub> goals_;
  std::unique_ptr<mv1::MetricsService::Stub> metrics_;
  std::unique_ptr<mv1::MetricsService::Stub> writes_;
  std::unique_ptr<pv1::PeopleService::Stub> people_;
  std::vector<std::string> kpi_names_;
  std::vector<std::vector<size_t>> kpi_krs_;  // KPI -> indexes into seen_
  absl::flat_hash_map<std::string, size_t> kr_index_;
  const int64_t run_id_ = absl::ToUnixMicros(absl::Now());

  grpc::ClientContext watch_ctx_;
  std::unique_ptr<grpc::ClientReader<gv1::WatchGoalsResponse>> watch_;
  std::thread watch_thread_;
  grpc::Status watch_stream_status_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Point> points_;  // sized before the first write
  std::vector<Seen> seen_;
  bool watch_ended_ = false;
  int64_t sent_ = 0, answered_ = 0;
  absl::Time last_sent_ = absl::InfinitePast();
  absl::Time last_answer_ = absl::InfinitePast();
  std::string first_error_;
};

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sightline-bench-goals goal-body | tree | check-ins | commits | "
      "kpi-follow (see the source)");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string step = args.size() > 1 ? args[1] : "";
  if (step == "goal-body") return sightline::bench::GoalBody();
  if (step == "tree") return sightline::bench::Tree();
  if (step == "check-ins") return sightline::bench::CheckInRun().Run();
  if (step == "commits") return sightline::bench::Commits();
  if (step == "kpi-follow") return sightline::bench::KpiFollowRun().Run();
  return sightline::bench::Fail(
      "which step? goal-body, tree, check-ins, commits, kpi-follow");
}
