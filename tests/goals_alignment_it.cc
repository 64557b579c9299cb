// Goals through the real binaries, on SQLite and on PostgreSQL: a company <-
// team <- individual alignment rolled up by check-ins, optimistic concurrency
// between two writers, reading a goal as it was before a recalibration, and
// retried check-ins.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kEps = 1e-9;

class GoalsAlignmentTest : public ::testing::TestWithParam<Db>,
                           protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(GetParam(), "FY"));
  }

  // A goal that must be created; its first key result's name in `kr`.
  gv1::Goal MustCreate(const std::string& as, const gv1::Goal& goal,
                       const std::vector<gv1::KeyResult>& krs,
                       std::string* kr = nullptr) {
    gv1::Goal out;
    EXPECT_THAT(cluster_->CreateGoal(as, goal, krs, &out), GrpcOk());
    if (kr != nullptr) {
      auto list = cluster_->KeyResults(as, out.name());
      EXPECT_TRUE(list.ok()) << list.status();
      if (list.ok() && !list->empty()) *kr = (*list)[0].name();
    }
    return out;
  }

  gv1::Goal MustGet(const std::string& as, const std::string& name) {
    gv1::Goal g;
    EXPECT_THAT(cluster_->GetGoal(as, name, &g), GrpcOk()) << name;
    return g;
  }

  // company <- team (teams/eng, one key result 0 -> 10) <- individual
  // (ic-eng-1, one key result 0 -> 100).
  void BuildThreeLevels() {
    auto company =
        GoalMsg("Grow ARR 30%", cluster_->Person("ceo"), gv1::COMPANY, cycle_);
    company.set_progress_source(gv1::Goal::CHILDREN);
    company_ = MustCreate("ceo", company, {});
    team_ = MustCreate("mgr-eng",
                       GoalMsg("Ship self-serve billing", cluster_->Team("eng"),
                               gv1::TEAM, cycle_, company_.name()),
                       {NumberKr("Signups per week", 0, 10)}, &team_kr_);
    ind_ =
        MustCreate("ic-eng-1",
                   GoalMsg("Build the checkout", cluster_->Person("ic-eng-1"),
                           gv1::INDIVIDUAL, cycle_, team_.name()),
                   {NumberKr("Checkout steps done", 0, 100)}, &ind_kr_);
    ASSERT_FALSE(team_kr_.empty());
    ASSERT_FALSE(ind_kr_.empty());
  }

  // Every level agrees on the progress, read one goal at a time and as trees
  // rooted at the company, the team, the person and the team goal.
  void ExpectProgress(double company, double team, double ind) {
    SCOPED_TRACE(absl::StrCat("expected ", company, " <- ", team, " <- ", ind));
    EXPECT_NEAR(MustGet("ceo", company_.name()).progress(), company, kEps);
    EXPECT_NEAR(MustGet("mgr-eng", team_.name()).progress(), team, kEps);
    EXPECT_NEAR(MustGet("ic-eng-1", ind_.name()).progress(), ind, kEps);

    struct Want {
      std::string name, parent;
      int depth;
      double progress;
    };
    auto check = [&](const gv1::GetAlignmentTreeRequest& req,
                     const std::vector<Want>& want) {
      std::vector<gv1::AlignmentNode> nodes;
      ASSERT_THAT(cluster_->Tree("ceo", req, &nodes), GrpcOk());
      ASSERT_EQ(nodes.size(), want.size()) << req.ShortDebugString();
      for (size_t i = 0; i < want.size(); ++i) {
        SCOPED_TRACE(absl::StrCat(req.ShortDebugString(), " node ", i));
        EXPECT_EQ(nodes[i].name(), want[i].name);
        EXPECT_EQ(nodes[i].parent(), want[i].parent);
        EXPECT_EQ(nodes[i].depth(), want[i].depth);
        EXPECT_FALSE(nodes[i].restricted());
        EXPECT_EQ(nodes[i].state(), gv1::Goal::ACTIVE);
        EXPECT_NEAR(nodes[i].progress(), want[i].progress, kEps);
      }
    };
    gv1::GetAlignmentTreeRequest req;
    req.set_company(true);
    req.set_cycle(cycle_);
    check(req, {{company_.name(), "", 0, company},
                {team_.name(), company_.name(), 1, team},
                {ind_.name(), team_.name(), 2, ind}});
    req.Clear();
    req.set_team(cluster_->Team("eng"));
    req.set_cycle(cycle_);
    check(req, {{team_.name(), company_.name(), 0, team},
                {ind_.name(), team_.name(), 1, ind}});
    req.Clear();
    req.set_person(cluster_->Person("ic-eng-1"));
    req.set_cycle(cycle_);
    check(req, {{ind_.name(), team_.name(), 0, ind}});
    req.Clear();
    req.set_goal(team_.name());
    check(req, {{team_.name(), company_.name(), 0, team},
                {ind_.name(), team_.name(), 1, ind}});
    // Depth 1 below the company: the individual goal is left out.
    req.Clear();
    req.set_company(true);
    req.set_cycle(cycle_);
    req.set_depth(1);
    check(req, {{company_.name(), "", 0, company},
                {team_.name(), company_.name(), 1, team}});
  }

  gv1::Goal company_, team_, ind_;
  std::string team_kr_, ind_kr_;
};

TEST_P(GoalsAlignmentTest, ThreeLevelsRollUpEveryCheckInToTheCompanyGoal) {
  BuildThreeLevels();
  EXPECT_EQ(company_.level(), gv1::COMPANY);
  EXPECT_EQ(team_.parent(), company_.name());
  EXPECT_EQ(ind_.parent(), team_.name());
  EXPECT_EQ(ind_.state(), gv1::Goal::ACTIVE);
  ExpectProgress(0, 0, 0);

  // The individual halfway: team = (its KR 0 + child 0.5) / 2.
  gv1::CheckIn c;
  ASSERT_THAT(cluster_->CheckIn("ic-eng-1", ind_.name(), ind_kr_, 50, &c),
              GrpcOk());
  EXPECT_NEAR(c.progress(), 0.5, kEps);
  EXPECT_EQ(c.author(), cluster_->Person("ic-eng-1"));
  ExpectProgress(0.25, 0.25, 0.5);

  // The team's own key result done: team = (1 + 0.5) / 2.
  ASSERT_THAT(cluster_->CheckIn("mgr-eng", team_.name(), team_kr_, 10, &c),
              GrpcOk());
  EXPECT_NEAR(c.progress(), 0.75, kEps);
  ExpectProgress(0.75, 0.75, 0.5);

  // Everything done.
  ASSERT_THAT(cluster_->CheckIn("ic-eng-1", ind_.name(), ind_kr_, 100, &c),
              GrpcOk());
  ExpectProgress(1, 1, 1);

  // The lineage of the individual goal goes up to the company goal.
  gv1::GetGoalLineageRequest req;
  req.set_name(ind_.name());
  gv1::GetGoalLineageResponse lineage;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::GetGoalLineage,
                             cluster_->Token("ic-eng-1"), req, &lineage),
              GrpcOk());
  std::vector<std::string> names;
  for (const auto& n : lineage.nodes()) names.push_back(n.name());
  EXPECT_THAT(names, ElementsAre(ind_.name(), team_.name(), company_.name()));
}

TEST_P(GoalsAlignmentTest, SecondWriterWithAStaleEtagIsAborted) {
  BuildThreeLevels();
  // The owner and the owner's manager read the same version.
  gv1::Goal mine = MustGet("ic-eng-1", ind_.name());
  gv1::Goal theirs = MustGet("mgr-eng", ind_.name());
  ASSERT_EQ(mine.etag(), theirs.etag());
  ASSERT_FALSE(mine.etag().empty());

  gv1::UpdateGoalRequest req;
  req.mutable_goal()->set_name(ind_.name());
  req.mutable_goal()->set_title("Checkout in three steps");
  req.mutable_goal()->set_etag(mine.etag());
  req.mutable_update_mask()->add_paths("title");
  gv1::Goal first;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("ic-eng-1"), req, &first),
              GrpcOk());
  EXPECT_EQ(first.revision(), mine.revision() + 1);
  EXPECT_NE(first.etag(), mine.etag());

  req.mutable_goal()->set_title("Checkout in one step");
  req.mutable_goal()->set_etag(theirs.etag());
  gv1::Goal second;
  grpc::Status s = cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                                  cluster_->Token("mgr-eng"), req, &second);
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::ABORTED, HasSubstr("etag")));
  EXPECT_EQ(ErrorReason(s), "ETAG_MISMATCH");

  // The first change stands, once.
  gv1::Goal now = MustGet("mgr-eng", ind_.name());
  EXPECT_EQ(now.title(), "Checkout in three steps");
  EXPECT_EQ(now.revision(), first.revision());
  EXPECT_EQ(now.etag(), first.etag());

  // Read again, write again: the second writer gets through.
  req.mutable_goal()->set_etag(now.etag());
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("mgr-eng"), req, &second),
              GrpcOk());
  EXPECT_EQ(second.title(), "Checkout in one step");
  EXPECT_EQ(second.revision(), first.revision() + 1);
}

TEST_P(GoalsAlignmentTest, AsOfBeforeARecalibrationShowsTheGoalAsItWasThen) {
  BuildThreeLevels();
  gv1::CheckIn c;
  ASSERT_THAT(cluster_->CheckIn("ic-eng-1", ind_.name(), ind_kr_, 50, &c),
              GrpcOk());
  gv1::Goal then = MustGet("ic-eng-1", ind_.name());
  ASSERT_NEAR(then.progress(), 0.5, kEps);

  // Recalibration: the target doubles. Without a reason it is refused.
  auto krs = cluster_->KeyResults("ic-eng-1", ind_.name());
  ASSERT_TRUE(krs.ok()) << krs.status();
  ASSERT_EQ(krs->size(), 1u);
  gv1::UpdateKeyResultRequest req;
  *req.mutable_key_result() = (*krs)[0];
  req.mutable_key_result()->set_target(200);
  req.mutable_update_mask()->add_paths("target");
  gv1::KeyResult kr;
  grpc::Status s = cluster_->Call(&gv1::GoalService::Stub::UpdateKeyResult,
                                  cluster_->Token("ic-eng-1"), req, &kr);
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(s), Contains("reason"));
  req.set_reason("The scope doubled after the pricing change");
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateKeyResult,
                             cluster_->Token("ic-eng-1"), req, &kr),
              GrpcOk());
  EXPECT_NEAR(kr.progress(), 0.25, kEps);
  gv1::Goal now = MustGet("ic-eng-1", ind_.name());
  EXPECT_NEAR(now.progress(), 0.25, kEps);
  EXPECT_EQ(now.revision(), then.revision() + 1);
  // The parent moved with it: (0 + 0.25) / 2.
  EXPECT_NEAR(MustGet("ceo", team_.name()).progress(), 0.125, kEps);

  // As of the check-in: the old target's progress, the revision then.
  gv1::GetGoalRequest get;
  get.set_name(ind_.name());
  *get.mutable_as_of() = c.create_time();
  gv1::Goal past;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::GetGoal,
                             cluster_->Token("ic-eng-1"), get, &past),
              GrpcOk());
  EXPECT_NEAR(past.progress(), 0.5, kEps);
  EXPECT_EQ(past.revision(), then.revision());
  EXPECT_EQ(past.etag(), then.etag());
  EXPECT_EQ(past.state(), gv1::Goal::ACTIVE);
  EXPECT_EQ(past.title(), then.title());
  EXPECT_NE(past.health(), gv1::HEALTH_UNSPECIFIED);
  // Expected progress as it stood at that time, never later than now's.
  EXPECT_LE(past.expected_progress(), now.expected_progress());

  // As of its creation: nothing done yet.
  *get.mutable_as_of() = ind_.create_time();
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::GetGoal,
                             cluster_->Token("ic-eng-1"), get, &past),
              GrpcOk());
  EXPECT_NEAR(past.progress(), 0, kEps);
  EXPECT_EQ(past.revision(), ind_.revision());

  // Before it existed: NOT_FOUND.
  *get.mutable_as_of() = TimeUtil::MicrosecondsToTimestamp(
      TimeUtil::TimestampToMicroseconds(ind_.create_time()) - 1000000);
  EXPECT_THAT(cluster_->Call(&gv1::GoalService::Stub::GetGoal,
                             cluster_->Token("ic-eng-1"), get, &past),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

  // The history names the recalibration and its reason.
  gv1::ListGoalRevisionsRequest list;
  list.set_parent(ind_.name());
  gv1::ListGoalRevisionsResponse revisions;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::ListGoalRevisions,
                             cluster_->Token("ic-eng-1"), list, &revisions),
              GrpcOk());
  ASSERT_GE(revisions.revisions_size(), 3);
  const auto& last = revisions.revisions(revisions.revisions_size() - 1);
  EXPECT_EQ(last.reason(), "The scope doubled after the pricing change");
  EXPECT_EQ(last.target(), ind_kr_);
  EXPECT_EQ(last.actor(), cluster_->Person("ic-eng-1"));
  bool target_change = false;
  for (const auto& ch : last.changes()) {
    if (ch.field() == "target") {
      target_change = true;
      EXPECT_EQ(ch.old_value(), "100");
      EXPECT_EQ(ch.new_value(), "200");
    }
  }
  EXPECT_TRUE(target_change) << last.ShortDebugString();
}

TEST_P(GoalsAlignmentTest, RetriedCheckInIsRecordedOnce) {
  BuildThreeLevels();
  gv1::Goal before = MustGet("ic-eng-1", ind_.name());
  gv1::CheckIn first, retry;
  ASSERT_THAT(cluster_->CheckIn("ic-eng-1", ind_.name(), ind_kr_, 30, &first,
                                "checkin-retry-1"),
              GrpcOk());
  ASSERT_THAT(cluster_->CheckIn("ic-eng-1", ind_.name(), ind_kr_, 30, &retry,
                                "checkin-retry-1"),
              GrpcOk());
  EXPECT_EQ(retry.name(), first.name());
  EXPECT_EQ(retry.create_time().seconds(), first.create_time().seconds());
  EXPECT_EQ(retry.create_time().nanos(), first.create_time().nanos());
  EXPECT_NEAR(retry.progress(), 0.3, kEps);

  // One check-in, one revision: progress moved once.
  gv1::Goal after = MustGet("ic-eng-1", ind_.name());
  EXPECT_NEAR(after.progress(), 0.3, kEps);
  EXPECT_EQ(after.revision(), before.revision() + 1);
  gv1::ListCheckInsRequest list;
  list.set_parent(ind_.name());
  gv1::ListCheckInsResponse check_ins;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::ListCheckIns,
                             cluster_->Token("ic-eng-1"), list, &check_ins),
              GrpcOk());
  ASSERT_EQ(check_ins.check_ins_size(), 1);
  EXPECT_EQ(check_ins.check_ins(0).name(), first.name());
  gv1::ListGoalRevisionsRequest revs;
  revs.set_parent(ind_.name());
  gv1::ListGoalRevisionsResponse revisions;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::ListGoalRevisions,
                             cluster_->Token("ic-eng-1"), revs, &revisions),
              GrpcOk());
  int check_in_revisions = 0;
  for (const auto& r : revisions.revisions())
    check_in_revisions += r.action() == "CHECK_IN";
  EXPECT_EQ(check_in_revisions, 1);

  // The same request id with another value: refused, naming request_id.
  gv1::CheckIn other;
  grpc::Status s = cluster_->CheckIn("ic-eng-1", ind_.name(), ind_kr_, 60,
                                     &other, "checkin-retry-1");
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                              HasSubstr("request_id")));
  EXPECT_THAT(ViolatedFields(s), Contains("request_id"));
  gv1::Goal still = MustGet("ic-eng-1", ind_.name());
  EXPECT_NEAR(still.progress(), 0.3, kEps);
  EXPECT_EQ(still.revision(), after.revision());
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::ListCheckIns,
                             cluster_->Token("ic-eng-1"), list, &check_ins),
              GrpcOk());
  EXPECT_EQ(check_ins.check_ins_size(), 1);
}

INSTANTIATE_TEST_SUITE_P(Db, GoalsAlignmentTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
