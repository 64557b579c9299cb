// Concurrent check-ins on PostgreSQL through the real goals binary: many
// clients on sibling goals under one parent (the roll-up's hot row), and
// several replicas of the service on one database, each followed by a
// WatchGoals reader. No etag anywhere, so no call may answer ABORTED; a
// conflict inside the database is retried by the service.

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;

// Answers of concurrent calls, by code.
struct Codes {
  absl::Mutex mu;
  std::map<grpc::StatusCode, int> count ABSL_GUARDED_BY(mu);
  std::string first_error ABSL_GUARDED_BY(mu);
  void Add(const grpc::Status& s) {
    absl::MutexLock lock(&mu);
    ++count[s.error_code()];
    if (!s.ok() && first_error.empty()) first_error = s.error_message();
  }
  int Of(grpc::StatusCode code) {
    absl::MutexLock lock(&mu);
    return count[code];
  }
};

double Retries(const ServiceProcess& svc) {
  auto metrics = svc.ScrapeMetrics();
  if (!metrics.ok()) return -1;
  return SeriesValue(*metrics, "sightline_sql_retries_total", {});
}

grpc::Status CheckInOn(gv1::GoalService::Stub* stub, const std::string& token,
                       const std::string& goal, const std::string& kr,
                       double value, gv1::CheckIn* out) {
  gv1::CreateCheckInRequest req;
  req.set_parent(goal);
  auto* v = req.mutable_check_in()->add_values();
  v->set_key_result(kr);
  v->set_value(value);
  req.mutable_check_in()->set_confidence(0.5);
  grpc::ClientContext ctx;
  Authorize(&ctx, token, absl::Seconds(30));
  return stub->CreateCheckIn(&ctx, req, out);
}

class GoalsPostgresConcurrencyTest : public ::testing::Test,
                                     protected ClusterFixture {
 protected:
  void SetUp() override {
    // Replicas share the key that signs resume tokens, as a deployment of
    // several does: a token from one is taken by the others.
    key_dir_ = MakeTempDir("goals_pg_key");
    const std::string key_file = key_dir_ + "/token.key";
    {
      absl::BitGen gen;
      std::ofstream out(key_file);
      for (int i = 0; i < 4; ++i)
        out << absl::StrCat(absl::Uniform<uint64_t>(gen));
    }
    ASSERT_NO_FATAL_FAILURE(
        StartCluster(Db::kPostgres, "FY", {"--token_key_file=" + key_file}));
    // top (company) <- parent (team) <- kChildren individual goals, each
    // with one key result from 0 to 100; the two above roll up children.
    gv1::Goal top =
        GoalMsg("top", cluster_->Person("ceo"), gv1::COMPANY, cycle_);
    top.set_progress_source(gv1::Goal::CHILDREN);
    ASSERT_THAT(cluster_->CreateGoal("ceo", top, {}, &top_), GrpcOk());
    gv1::Goal parent = GoalMsg("parent", cluster_->Person("mgr-eng"), gv1::TEAM,
                               cycle_, top_.name());
    parent.set_progress_source(gv1::Goal::CHILDREN);
    ASSERT_THAT(cluster_->CreateGoal("mgr-eng", parent, {}, &parent_),
                GrpcOk());
    for (int i = 0; i < kChildren; ++i) {
      gv1::Goal child;
      ASSERT_THAT(
          cluster_->CreateGoal(
              "ic-eng-1",
              GoalMsg(absl::StrCat("child-", i), cluster_->Person("ic-eng-1"),
                      gv1::INDIVIDUAL, cycle_, parent_.name()),
              {NumberKr("KR", 0, 100)}, &child),
          GrpcOk());
      auto krs = cluster_->KeyResults("ic-eng-1", child.name());
      ASSERT_TRUE(krs.ok()) << krs.status();
      ASSERT_EQ(krs->size(), 1u);
      children_.push_back(child.name());
      krs_.push_back((*krs)[0].name());
    }
  }

  void TearDown() override {
    cluster_.reset();
    if (!key_dir_.empty()) RemoveTree(key_dir_);
  }

  static constexpr int kChildren = 8;
  gv1::Goal top_, parent_;
  std::vector<std::string> children_, krs_;
  std::string key_dir_;
};

TEST_F(GoalsPostgresConcurrencyTest,
       SiblingCheckInsUnderOneParentAllSucceedAndRollUpExactly) {
  constexpr int kClients = 32, kPerClient = 10;
  const double retries_before = Retries(cluster_->service());
  const std::string token = cluster_->Token("ic-eng-1");
  Codes codes;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      // A channel of its own per client, as separate clients have.
      auto stub = gv1::GoalService::NewStub(cluster_->service().Channel());
      absl::BitGen gen;
      for (int i = 0; i < kPerClient; ++i) {
        const int c = (t + i) % kChildren;
        gv1::CheckIn out;
        codes.Add(CheckInOn(stub.get(), token, children_[c], krs_[c],
                            absl::Uniform(gen, 0, 100), &out));
      }
    });
  }
  for (auto& c : clients) c.join();
  const double retries = Retries(cluster_->service()) - retries_before;
  std::printf(
      "sibling check-ins: %d calls, OK %d, ABORTED %d, UNAVAILABLE %d, "
      "database retries %.0f\n",
      kClients * kPerClient, codes.Of(grpc::StatusCode::OK),
      codes.Of(grpc::StatusCode::ABORTED),
      codes.Of(grpc::StatusCode::UNAVAILABLE), retries);
  EXPECT_EQ(codes.Of(grpc::StatusCode::ABORTED), 0);
  EXPECT_EQ(codes.Of(grpc::StatusCode::UNAVAILABLE), 0);
  {
    absl::MutexLock lock(&codes.mu);
    EXPECT_EQ(codes.count[grpc::StatusCode::OK], kClients * kPerClient)
        << codes.first_error;
  }

  // Recomputed from what the children hold now: each child's progress is
  // its key result's current / 100; the parent's the mean of its children's
  // (weight 1 each); the top's that of its only child.
  double sum = 0;
  for (int c = 0; c < kChildren; ++c) {
    auto krs = cluster_->KeyResults("ic-eng-1", children_[c]);
    ASSERT_TRUE(krs.ok()) << krs.status();
    gv1::Goal child;
    ASSERT_THAT(cluster_->GetGoal("ic-eng-1", children_[c], &child), GrpcOk());
    EXPECT_NEAR(child.progress(), (*krs)[0].current() / 100.0, 1e-9);
    sum += (*krs)[0].current() / 100.0;
  }
  gv1::Goal parent, top;
  ASSERT_THAT(cluster_->GetGoal("ceo", parent_.name(), &parent), GrpcOk());
  ASSERT_THAT(cluster_->GetGoal("ceo", top_.name(), &top), GrpcOk());
  EXPECT_NEAR(parent.progress(), sum / kChildren, 1e-9);
  EXPECT_NEAR(top.progress(), sum / kChildren, 1e-9);
  std::printf("parent progress %.6f, recomputed %.6f, top %.6f\n",
              parent.progress(), sum / kChildren, top.progress());
}

// What a reader saw, comparable across replicas: position and content, less
// what a goal's answer computes at read time (its expected progress, and the
// health that compares progress with it).
std::string Entry(const gv1::WatchGoalsResponse& e) {
  gv1::WatchGoalsResponse copy = e;
  if (copy.has_goal()) {
    copy.mutable_goal()->clear_expected_progress();
    copy.mutable_goal()->clear_health();
  }
  std::string bytes;
  copy.SerializeToString(&bytes);
  return bytes;
}

TEST_F(GoalsPostgresConcurrencyTest,
       ThreeReplicasWritingAtOnceShowOneWatchSequence) {
  std::vector<std::unique_ptr<ServiceProcess>> extra;
  for (int i = 1; i < 3; ++i) {
    auto r = cluster_->StartReplica(absl::StrCat("goals-", i));
    ASSERT_TRUE(r.ok()) << r.status();
    extra.push_back(std::move(*r));
  }
  std::vector<ServiceProcess*> replicas = {&cluster_->service(), extra[0].get(),
                                           extra[1].get()};
  std::vector<double> retries_before;
  for (auto* r : replicas) retries_before.push_back(Retries(*r));
  const std::string token = cluster_->Token("ic-eng-1");
  std::vector<std::unique_ptr<gv1::GoalService::Stub>> stubs;
  for (auto* r : replicas)
    stubs.push_back(gv1::GoalService::NewStub(r->Channel()));

  // A goal outside the tree for the end marker, whose events come after
  // every one of the concurrent writes and touch nothing they touched.
  gv1::Goal marker;
  ASSERT_THAT(
      cluster_->CreateGoal("ic-eng-1",
                           GoalMsg("marker", cluster_->Person("ic-eng-1"),
                                   gv1::INDIVIDUAL, cycle_),
                           {NumberKr("KR", 0, 100)}, &marker),
      GrpcOk());
  auto marker_krs = cluster_->KeyResults("ic-eng-1", marker.name());
  ASSERT_TRUE(marker_krs.ok()) << marker_krs.status();

  // A starting point every reader resumes from: the first reader's event for
  // a check-in written before any of the concurrent ones.
  auto first = std::make_unique<GoalWatch>(stubs[0].get(), token);
  gv1::CheckIn start;
  ASSERT_THAT(
      CheckInOn(stubs[0].get(), token, children_[0], krs_[0], 1, &start),
      GrpcOk());
  bool found = false;
  auto head = first->ReadUntil(
      [&](const gv1::WatchGoalsResponse& e) {
        return e.check_in().name() == start.name();
      },
      100, &found);
  ASSERT_TRUE(found);
  const std::string from = head.back().resume_token();
  std::vector<std::unique_ptr<GoalWatch>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(std::make_unique<GoalWatch>(stubs[i].get(), token, from));
  }

  // 4 clients per replica, each writing check-ins through its replica.
  constexpr int kPerReplica = 4, kPerClient = 8;
  Codes codes;
  absl::Mutex acked_mu;
  std::set<std::string> acked;
  std::vector<std::thread> clients;
  for (int r = 0; r < 3; ++r) {
    for (int t = 0; t < kPerReplica; ++t) {
      clients.emplace_back([&, r, t] {
        auto stub = gv1::GoalService::NewStub(replicas[r]->Channel());
        absl::BitGen gen;
        for (int i = 0; i < kPerClient; ++i) {
          const int c = (r * kPerReplica + t + i) % kChildren;
          gv1::CheckIn out;
          grpc::Status s = CheckInOn(stub.get(), token, children_[c], krs_[c],
                                     absl::Uniform(gen, 0, 100), &out);
          codes.Add(s);
          if (s.ok()) {
            absl::MutexLock lock(&acked_mu);
            acked.insert(out.name());
          }
        }
      });
    }
  }
  for (auto& c : clients) c.join();
  // The end marker, written after every acknowledged write: every reader
  // reads up to it.
  gv1::CheckIn end;
  ASSERT_THAT(CheckInOn(stubs[2].get(), token, marker.name(),
                        (*marker_krs)[0].name(), 2, &end),
              GrpcOk());
  double retries = 0;
  for (size_t i = 0; i < replicas.size(); ++i)
    retries += Retries(*replicas[i]) - retries_before[i];
  std::printf(
      "three replicas: %d calls, OK %d, ABORTED %d, UNAVAILABLE %d, "
      "database retries %.0f\n",
      3 * kPerReplica * kPerClient, codes.Of(grpc::StatusCode::OK),
      codes.Of(grpc::StatusCode::ABORTED),
      codes.Of(grpc::StatusCode::UNAVAILABLE), retries);
  EXPECT_EQ(codes.Of(grpc::StatusCode::OK), 3 * kPerReplica * kPerClient);
  EXPECT_EQ(codes.Of(grpc::StatusCode::ABORTED), 0);
  EXPECT_EQ(codes.Of(grpc::StatusCode::UNAVAILABLE), 0);

  std::vector<std::vector<std::string>> seen(3);
  for (int i = 0; i < 3; ++i) {
    bool done = false;
    auto events = readers[i]->ReadUntil(
        [&](const gv1::WatchGoalsResponse& e) {
          return e.check_in().name() == end.name();
        },
        20000, &done);
    ASSERT_TRUE(done) << "reader " << i << " stopped after " << events.size()
                      << " events: " << readers[i]->Finish().error_message();
    std::map<std::string, int> check_ins;
    for (const auto& e : events) {
      seen[i].push_back(Entry(e));
      if (e.has_check_in()) ++check_ins[e.check_in().name()];
    }
    // Every acknowledged check-in once, and nothing else but the marker.
    EXPECT_EQ(check_ins.size(), acked.size() + 1) << "reader " << i;
    for (const auto& name : acked) {
      EXPECT_EQ(check_ins[name], 1) << "reader " << i << ": " << name;
    }
    EXPECT_EQ(check_ins[end.name()], 1);
    std::set<std::string> tokens;
    for (const auto& e : events) tokens.insert(e.resume_token());
    EXPECT_EQ(tokens.size(), events.size()) << "reader " << i;
    // The log's order is the order the roll-up wrote the parent in: its
    // last event holds the progress it holds now.
    double last_parent = -1;
    for (const auto& e : events) {
      if (e.goal().name() == parent_.name()) last_parent = e.goal().progress();
    }
    // (Replica 0's caches learn of the other replicas' writes by polling
    // the log: bounded wait for them.)
    gv1::Goal parent_now;
    for (int n = 0; n < 200; ++n) {
      ASSERT_THAT(cluster_->GetGoal("ceo", parent_.name(), &parent_now),
                  GrpcOk());
      if (parent_now.progress() == last_parent) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(last_parent, parent_now.progress()) << "reader " << i;
    std::printf("reader on replica %d: %zu events\n", i, events.size());
  }
  EXPECT_EQ(seen[1], seen[0]);
  EXPECT_EQ(seen[2], seen[0]);

  readers.clear();
  first.reset();
  stubs.clear();
  for (auto& r : extra) r->Stop();
}

}  // namespace
}  // namespace sightline::testing
