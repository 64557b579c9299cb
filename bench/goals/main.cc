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
//       seconds (the most the service sustains).
//   sightline-bench-goals commits --db=F --rate=R --seconds=S
//       the baseline of the check-in latency on the same disk: durable SQLite
//       commits of one 4 KiB row each at the same rate, open loop. Prints
//       commits_p50_ms and commits_p99_ms.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/frame.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/auth/jwt.h"
#include "lib/testing/service.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "", "The goals service.");
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
ABSL_FLAG(int, channels, 4, "check-ins: connections.");
ABSL_FLAG(uint64_t, seed, 7, "check-ins: seed of the goals and values.");

namespace sightline::bench {
namespace {

namespace gv1 = ::sightline::goals::v1;

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
    for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_channels)); ++i)
      stubs_.push_back(NewStub(target));

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
    if (!first_error_.empty()) {
      std::fprintf(stderr, "first error: %s\n", first_error_.c_str());
      return 1;
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
      } else if (first_error_.empty()) {
        first_error_ = absl::StrCat(st.error_code(), ": ", st.error_message());
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

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sightline-bench-goals goal-body | tree | check-ins | commits (see the "
      "source)");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string step = args.size() > 1 ? args[1] : "";
  if (step == "goal-body") return sightline::bench::GoalBody();
  if (step == "tree") return sightline::bench::Tree();
  if (step == "check-ins") return sightline::bench::CheckInRun().Run();
  if (step == "commits") return sightline::bench::Commits();
  return sightline::bench::Fail(
      "which step? goal-body, tree, check-ins, commits");
}
