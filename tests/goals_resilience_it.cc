// The goals service while the people service is down: reads keep answering
// from the replica of the directory; writes that must validate people fail
// with UNAVAILABLE and write nothing; once the people service is back on the
// same port, they go through again.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

class GoalsResilienceTest : public ::testing::TestWithParam<Db>,
                            protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        StartCluster(GetParam(), "FY", {"--approval_required"}));
    auto company =
        GoalMsg("Grow ARR", cluster_->Person("ceo"), gv1::COMPANY, cycle_);
    company.set_progress_source(gv1::Goal::CHILDREN);
    ASSERT_THAT(cluster_->CreateGoal("ceo", company, {}, &company_), GrpcOk());
    // Set by the manager: ACTIVE, with a check-in.
    ASSERT_THAT(cluster_->CreateGoal(
                    "mgr-eng",
                    GoalMsg("Cut invoice errors", cluster_->Person("ic-eng-2"),
                            gv1::INDIVIDUAL, cycle_, company_.name()),
                    {NumberKr("Fixed", 0, 10)}, &active_),
                GrpcOk());
    auto krs = cluster_->KeyResults("ic-eng-2", active_.name());
    ASSERT_TRUE(krs.ok()) << krs.status();
    gv1::CheckIn check_in;
    ASSERT_THAT(cluster_->CheckIn("ic-eng-2", active_.name(), (*krs)[0].name(),
                                  5, &check_in),
                GrpcOk());
    // Self-set: waits for the manager.
    ASSERT_THAT(cluster_->CreateGoal(
                    "ic-eng-1",
                    GoalMsg("Learn the ledger", cluster_->Person("ic-eng-1"),
                            gv1::INDIVIDUAL, cycle_, company_.name(),
                            gv1::Goal::PRIVATE),
                    {}, &pending_),
                GrpcOk());
    ASSERT_EQ(pending_.state(), gv1::Goal::PENDING_APPROVAL);
  }

  std::vector<std::string> ListedNames(const std::string& as) {
    gv1::ListGoalsRequest req;
    req.set_cycle(cycle_);
    std::vector<gv1::Goal> goals;
    EXPECT_THAT(cluster_->ListAllGoals(as, req, &goals), GrpcOk());
    std::vector<std::string> names;
    for (const auto& g : goals) names.push_back(g.name());
    return names;
  }

  std::vector<std::string> TreeText(const std::string& as) {
    gv1::GetAlignmentTreeRequest req;
    req.set_company(true);
    req.set_cycle(cycle_);
    std::vector<gv1::AlignmentNode> nodes;
    EXPECT_THAT(cluster_->Tree(as, req, &nodes), GrpcOk());
    std::vector<std::string> out;
    for (const auto& n : nodes) {
      out.push_back(absl::StrCat(n.name(), " ", n.depth(), " ", n.title(), " ",
                                 n.progress(), " ", n.restricted()));
    }
    return out;
  }

  grpc::Status CreateForReport(gv1::Goal* out,
                               const std::string& request_id = "") {
    auto g = GoalMsg("Automate the refunds", cluster_->Person("ic-eng-1"),
                     gv1::INDIVIDUAL, cycle_, company_.name());
    g.add_contributors(cluster_->Person("ic-plat"));
    return cluster_->CreateGoal("mgr-eng", g, {NumberKr("Refunds", 0, 50)}, out,
                                request_id);
  }

  grpc::Status Approve(gv1::Goal* out) {
    gv1::ApproveGoalRequest req;
    req.set_name(pending_.name());
    req.set_etag(pending_.etag());
    return cluster_->Call(&gv1::GoalService::Stub::ApproveGoal,
                          cluster_->Token("mgr-eng"), req, out);
  }

  gv1::Goal company_, active_, pending_;
};

TEST_P(GoalsResilienceTest, PeopleServiceDownReadsWorkWritesWaitForIt) {
  gv1::Goal active_before;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-2", active_.name(), &active_before),
              GrpcOk());
  auto listed_before = ListedNames("mgr-eng");
  ASSERT_EQ(listed_before.size(), 3u);
  auto tree_before = TreeText("mgr-eng");
  ASSERT_EQ(tree_before.size(), 3u);
  auto unrelated_tree_before = TreeText("ic-sales-2");

  cluster_->people().service().Stop();
  ASSERT_FALSE(cluster_->people().service().running());

  // Reads answer from the replica, with the same access decisions.
  for (const char* who : {"ic-eng-2", "mgr-eng", "ceo"}) {
    SCOPED_TRACE(who);
    gv1::Goal g;
    ASSERT_THAT(cluster_->GetGoal(who, active_.name(), &g), GrpcOk());
    EXPECT_EQ(g.revision(), active_before.revision());
    EXPECT_EQ(g.progress(), active_before.progress());
  }
  gv1::Goal g;
  EXPECT_THAT(cluster_->GetGoal("ic-eng-1", pending_.name(), &g), GrpcOk());
  EXPECT_THAT(cluster_->GetGoal("ic-sales-2", pending_.name(), &g),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(ListedNames("mgr-eng"), UnorderedElementsAreArray(listed_before));
  EXPECT_THAT(TreeText("mgr-eng"), ElementsAreArray(tree_before));
  EXPECT_THAT(TreeText("ic-sales-2"), ElementsAreArray(unrelated_tree_before));

  // Writes that name people, and approvals, need the people service.
  gv1::Goal out;
  EXPECT_THAT(CreateForReport(&out, "refunds-goal"),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  EXPECT_THAT(Approve(&out), GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  gv1::BatchCreateGoalsRequest batch;
  batch.set_manager(cluster_->Person("mgr-eng"));
  *batch.mutable_template_() =
      GoalMsg("Write a runbook", "", gv1::INDIVIDUAL, cycle_, company_.name());
  batch.mutable_template_()->clear_owner();
  gv1::BatchCreateGoalsResponse made;
  EXPECT_THAT(cluster_->Call(&gv1::GoalService::Stub::BatchCreateGoals,
                             cluster_->Token("mgr-eng"), batch, &made),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));

  // Nothing was written.
  EXPECT_THAT(ListedNames("mgr-eng"), UnorderedElementsAreArray(listed_before));
  ASSERT_THAT(cluster_->GetGoal("mgr-eng", pending_.name(), &g), GrpcOk());
  EXPECT_EQ(g.state(), gv1::Goal::PENDING_APPROVAL);
  EXPECT_EQ(g.revision(), pending_.revision());
  EXPECT_THAT(TreeText("mgr-eng"), ElementsAreArray(tree_before));

  // Back on the same port: the same writes go through, after a few retries.
  ASSERT_TRUE(cluster_->people().service().Restart().ok());
  grpc::Status s;
  int attempts = 0;
  for (absl::Time until = absl::Now() + absl::Seconds(60);
       absl::Now() < until && attempts < 600; ++attempts) {
    s = CreateForReport(&out, "refunds-goal");
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_THAT(s, GrpcOk()) << "after " << attempts << " attempts";
  EXPECT_EQ(out.state(), gv1::Goal::ACTIVE);
  EXPECT_EQ(out.contributors_size(), 1);
  for (absl::Time until = absl::Now() + absl::Seconds(60);
       absl::Now() < until && attempts < 1200; ++attempts) {
    s = Approve(&g);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_THAT(s, GrpcOk());
  EXPECT_EQ(g.state(), gv1::Goal::ACTIVE);
  EXPECT_EQ(g.revision(), pending_.revision() + 1);

  auto listed_after = ListedNames("mgr-eng");
  EXPECT_EQ(listed_after.size(), 4u);
  EXPECT_THAT(listed_after, ::testing::Contains(out.name()));
}

INSTANTIATE_TEST_SUITE_P(Db, GoalsResilienceTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
