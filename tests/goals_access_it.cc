// Who may see and decide on goals, through the real binaries: the approval of
// self-set goals (--approval_required), and the visibility matrix of PUBLIC,
// TEAM and PRIVATE goals across GetGoal, ListGoals, GetAlignmentTree and
// WatchGoals.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr double kEps = 1e-9;

// ---- approval

class GoalsApprovalTest : public ::testing::Test, protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        StartCluster(Db::kSqlite, "H1", {"--approval_required"}));
  }

  gv1::Goal SelfSet(const std::string& title) {
    gv1::Goal g;
    EXPECT_THAT(
        cluster_->CreateGoal("ic-eng-1",
                             GoalMsg(title, cluster_->Person("ic-eng-1"),
                                     gv1::INDIVIDUAL, cycle_),
                             {NumberKr("Done", 0, 1)}, &g),
        GrpcOk());
    return g;
  }

  grpc::Status Decide(const std::string& as, const gv1::Goal& goal,
                      bool approve, const std::string& comment,
                      gv1::Goal* out) {
    if (approve) {
      gv1::ApproveGoalRequest req;
      req.set_name(goal.name());
      req.set_etag(goal.etag());
      req.set_comment(comment);
      return cluster_->Call(&gv1::GoalService::Stub::ApproveGoal,
                            cluster_->Token(as), req, out);
    }
    gv1::ReturnGoalRequest req;
    req.set_name(goal.name());
    req.set_etag(goal.etag());
    req.set_comment(comment);
    return cluster_->Call(&gv1::GoalService::Stub::ReturnGoal,
                          cluster_->Token(as), req, out);
  }
};

TEST_F(GoalsApprovalTest, SelfSetGoalWaitsForTheManager) {
  gv1::Goal g = SelfSet("Learn the billing code");
  EXPECT_EQ(g.state(), gv1::Goal::PENDING_APPROVAL);

  // A peer, the owner, and a manager of another branch may not decide.
  gv1::Goal out;
  for (const char* who : {"ic-eng-2", "ic-eng-1", "mgr-sales"}) {
    SCOPED_TRACE(who);
    EXPECT_THAT(Decide(who, g, /*approve=*/true, "", &out),
                GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
    EXPECT_THAT(Decide(who, g, /*approve=*/false, "not yours to decide", &out),
                GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  }
  gv1::Goal unchanged;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", g.name(), &unchanged), GrpcOk());
  EXPECT_EQ(unchanged.state(), gv1::Goal::PENDING_APPROVAL);
  EXPECT_EQ(unchanged.revision(), g.revision());

  // The owner cannot activate it by editing its state either.
  gv1::UpdateGoalRequest upd;
  upd.mutable_goal()->set_name(g.name());
  upd.mutable_goal()->set_state(gv1::Goal::ACTIVE);
  upd.mutable_update_mask()->add_paths("state");
  EXPECT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("ic-eng-1"), upd, &out),
              GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION));

  // The manager approves.
  ASSERT_THAT(Decide("mgr-eng", g, /*approve=*/true, "Good one", &out),
              GrpcOk());
  EXPECT_EQ(out.state(), gv1::Goal::ACTIVE);
  gv1::Goal approved;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", g.name(), &approved), GrpcOk());
  EXPECT_EQ(approved.state(), gv1::Goal::ACTIVE);
  EXPECT_EQ(approved.revision(), g.revision() + 1);
  // Approving twice is not possible: it is no longer pending.
  EXPECT_THAT(Decide("mgr-eng", approved, /*approve=*/true, "", &out),
              GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION));
}

TEST_F(GoalsApprovalTest, ReturnedGoalGoesBackToDraftWithTheComment) {
  gv1::Goal g = SelfSet("Refactor everything");
  ASSERT_EQ(g.state(), gv1::Goal::PENDING_APPROVAL);
  gv1::Goal out;
  ASSERT_THAT(
      Decide("mgr-eng", g, /*approve=*/false, "Too vague: what is done?", &out),
      GrpcOk());
  EXPECT_EQ(out.state(), gv1::Goal::DRAFT);
  EXPECT_EQ(out.approval_comment(), "Too vague: what is done?");
  gv1::Goal seen;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", g.name(), &seen), GrpcOk());
  EXPECT_EQ(seen.state(), gv1::Goal::DRAFT);
  EXPECT_EQ(seen.approval_comment(), "Too vague: what is done?");

  // Submitted again by the owner, it waits for approval again.
  gv1::UpdateGoalRequest upd;
  upd.mutable_goal()->set_name(g.name());
  upd.mutable_goal()->set_title("Split the billing module");
  upd.mutable_goal()->set_state(gv1::Goal::ACTIVE);
  upd.mutable_update_mask()->add_paths("title");
  upd.mutable_update_mask()->add_paths("state");
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("ic-eng-1"), upd, &out),
              GrpcOk());
  EXPECT_EQ(out.state(), gv1::Goal::PENDING_APPROVAL);
}

TEST_F(GoalsApprovalTest, GoalSetByTheManagerIsActiveAtOnce) {
  gv1::Goal g;
  ASSERT_THAT(cluster_->CreateGoal(
                  "mgr-eng",
                  GoalMsg("Own the on-call rota", cluster_->Person("ic-eng-2"),
                          gv1::INDIVIDUAL, cycle_),
                  {}, &g),
              GrpcOk());
  EXPECT_EQ(g.state(), gv1::Goal::ACTIVE);
}

// ---- alignment rights

class GoalsAlignmentRightsTest : public ::testing::Test,
                                 protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(Db::kSqlite, "H1"));
  }
};

// Everyone reads ic-eng-1's PUBLIC goal, but only those it cascades to (and
// those who may check in on it) may hang a child under it over the wire.
TEST_F(GoalsAlignmentRightsTest, APeerWhoReadsAGoalCannotAlignUnderIt) {
  gv1::Goal parent;
  ASSERT_THAT(cluster_->CreateGoal(
                  "ic-eng-1",
                  GoalMsg("Cut p99 in half", cluster_->Person("ic-eng-1"),
                          gv1::INDIVIDUAL, cycle_),
                  {}, &parent),
              GrpcOk());
  for (const char* who : {"ic-eng-2", "ic-sales-1"}) {
    SCOPED_TRACE(who);
    gv1::Goal child;
    grpc::Status s =
        cluster_->CreateGoal(who,
                             GoalMsg("Mine, under yours", cluster_->Person(who),
                                     gv1::INDIVIDUAL, cycle_, parent.name()),
                             {}, &child);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(), HasSubstr("goal.parent"));
  }
  gv1::Goal by_manager;
  EXPECT_THAT(cluster_->CreateGoal(
                  "mgr-eng",
                  GoalMsg("Help with p99", cluster_->Person("ic-eng-2"),
                          gv1::INDIVIDUAL, cycle_, parent.name()),
                  {}, &by_manager),
              GrpcOk());
  EXPECT_EQ(by_manager.parent(), parent.name());
}

// ---- visibility

// Who reads the goals of ic-eng-1 (contributor: ic-sales-1) and what each may
// see.
struct Reader {
  std::string who;
  bool team;      // reads the TEAM goal
  bool private_;  // reads the PRIVATE goal
};

const std::vector<Reader>& Readers() {
  static const auto* r = new std::vector<Reader>{
      {"ic-eng-1", true, true},      // owner
      {"ic-sales-1", true, true},    // contributor
      {"mgr-eng", true, true},       // the owner's manager
      {"ceo", true, true},           // higher up the owner's chain
      {"ic-eng-2", true, false},     // same team
      {"ic-plat", true, false},      // a sub-team of the owner's team
      {"ic-sales-2", false, false},  // unrelated
      {"hr", true, true},            // hr_admin
  };
  return *r;
}

class GoalsVisibilityTest : public ::testing::TestWithParam<Db>,
                            protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(GetParam(), "Q3"));
    // The team's PUBLIC goal, rolled up from its children only.
    auto parent = GoalMsg("Make billing reliable", cluster_->Team("eng"),
                          gv1::TEAM, cycle_);
    parent.set_progress_source(gv1::Goal::CHILDREN);
    ASSERT_THAT(cluster_->CreateGoal("mgr-eng", parent, {}, &parent_),
                GrpcOk());
  }

  // Creates the three goals of ic-eng-1 below the parent, and checks in on
  // them: 20%, 40%, 90%, so that the parent is at 50%.
  void CreateChildren() {
    const std::pair<gv1::Goal::Visibility, double> kinds[] = {
        {gv1::Goal::PUBLIC, 20},
        {gv1::Goal::TEAM, 40},
        {gv1::Goal::PRIVATE, 90}};
    for (const auto& [visibility, value] : kinds) {
      auto g = GoalMsg(absl::StrCat(gv1::Goal::Visibility_Name(visibility),
                                    " goal of ic-eng-1"),
                       cluster_->Person("ic-eng-1"), gv1::INDIVIDUAL, cycle_,
                       parent_.name(), visibility);
      g.add_contributors(cluster_->Person("ic-sales-1"));
      gv1::Goal made;
      ASSERT_THAT(
          cluster_->CreateGoal("ic-eng-1", g, {NumberKr("KR", 0, 100)}, &made),
          GrpcOk());
      goals_[visibility] = made;
      auto krs = cluster_->KeyResults("ic-eng-1", made.name());
      ASSERT_TRUE(krs.ok()) << krs.status();
      ASSERT_EQ(krs->size(), 1u);
      gv1::CheckIn c;
      ASSERT_THAT(cluster_->CheckIn("ic-eng-1", made.name(), (*krs)[0].name(),
                                    value, &c),
                  GrpcOk());
      progress_[made.name()] = value / 100;
    }
  }

  bool Sees(const Reader& r, gv1::Goal::Visibility v) const {
    return v == gv1::Goal::PUBLIC || (v == gv1::Goal::TEAM && r.team) ||
           (v == gv1::Goal::PRIVATE && r.private_);
  }

  // The goal names `r` may read: the parent and the visible children.
  std::vector<std::string> Visible(const Reader& r) const {
    std::vector<std::string> out = {parent_.name()};
    for (const auto& [v, g] : goals_) {
      if (Sees(r, v)) out.push_back(g.name());
    }
    return out;
  }

  void ExpectTree(const Reader& r, const gv1::GetAlignmentTreeRequest& req) {
    SCOPED_TRACE(req.ShortDebugString());
    std::vector<gv1::AlignmentNode> nodes;
    ASSERT_THAT(cluster_->Tree(r.who, req, &nodes), GrpcOk());
    ASSERT_EQ(nodes.size(), 4u);
    EXPECT_EQ(nodes[0].name(), parent_.name());
    EXPECT_FALSE(nodes[0].restricted());
    // Hidden children still count in the parent's progress.
    EXPECT_NEAR(nodes[0].progress(), (0.2 + 0.4 + 0.9) / 3, kEps);
    std::map<std::string, gv1::AlignmentNode> by_name;
    for (size_t i = 1; i < nodes.size(); ++i) {
      EXPECT_EQ(nodes[i].parent(), parent_.name());
      EXPECT_EQ(nodes[i].depth(), 1);
      by_name[nodes[i].name()] = nodes[i];
    }
    for (const auto& [v, g] : goals_) {
      SCOPED_TRACE(gv1::Goal::Visibility_Name(v));
      ASSERT_TRUE(by_name.contains(g.name()));
      const auto& n = by_name[g.name()];
      if (Sees(r, v)) {
        EXPECT_FALSE(n.restricted());
        EXPECT_EQ(n.title(), g.title());
        EXPECT_EQ(n.owner(), cluster_->Person("ic-eng-1"));
        EXPECT_NEAR(n.progress(), progress_[g.name()], kEps);
      } else {
        // Where it sits, nothing more.
        EXPECT_TRUE(n.restricted());
        EXPECT_EQ(n.title(), "");
        EXPECT_EQ(n.owner(), "");
        EXPECT_EQ(n.progress(), 0);
        EXPECT_EQ(n.state(), gv1::Goal::STATE_UNSPECIFIED);
      }
    }
  }

  gv1::Goal parent_;
  std::map<gv1::Goal::Visibility, gv1::Goal> goals_;
  std::map<std::string, double> progress_;
};

TEST_P(GoalsVisibilityTest, EachReaderSeesWhatTheRulesAllowEverywhere) {
  // Every reader watches from before the goals exist.
  std::map<std::string, std::unique_ptr<GoalWatch>> watches;
  for (const auto& r : Readers()) {
    watches[r.who] =
        std::make_unique<GoalWatch>(cluster_->stub(), cluster_->Token(r.who));
  }
  CreateChildren();
  // A last public change marks the end of what each stream must deliver.
  gv1::UpdateGoalRequest mark;
  mark.mutable_goal()->set_name(parent_.name());
  mark.mutable_goal()->set_title("end of the test");
  mark.mutable_update_mask()->add_paths("title");
  gv1::Goal marked;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("mgr-eng"), mark, &marked),
              GrpcOk());

  for (const auto& r : Readers()) {
    SCOPED_TRACE(r.who);
    // GetGoal: NOT_FOUND when hidden, as if it did not exist.
    for (const auto& [v, g] : goals_) {
      SCOPED_TRACE(gv1::Goal::Visibility_Name(v));
      gv1::Goal got;
      grpc::Status s = cluster_->GetGoal(r.who, g.name(), &got);
      if (Sees(r, v)) {
        EXPECT_THAT(s, GrpcOk());
        EXPECT_EQ(got.title(), g.title());
      } else {
        EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
        // Its key results and check-ins are hidden the same way.
        gv1::ListKeyResultsRequest krs;
        krs.set_parent(g.name());
        gv1::ListKeyResultsResponse kr_resp;
        EXPECT_THAT(cluster_->Call(&gv1::GoalService::Stub::ListKeyResults,
                                   cluster_->Token(r.who), krs, &kr_resp),
                    GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
      }
    }

    // ListGoals: hidden goals are absent, with small pages too.
    gv1::ListGoalsRequest list;
    list.set_cycle(cycle_);
    std::vector<gv1::Goal> listed;
    ASSERT_THAT(cluster_->ListAllGoals(r.who, list, &listed), GrpcOk());
    std::vector<std::string> names;
    for (const auto& g : listed) names.push_back(g.name());
    EXPECT_THAT(names, UnorderedElementsAreArray(Visible(r)));
    list.set_page_size(1);
    ASSERT_THAT(cluster_->ListAllGoals(r.who, list, &listed), GrpcOk());
    names.clear();
    for (const auto& g : listed) names.push_back(g.name());
    EXPECT_THAT(names, UnorderedElementsAreArray(Visible(r)));

    // The tree, from the parent goal and from the team.
    gv1::GetAlignmentTreeRequest tree;
    tree.set_goal(parent_.name());
    ExpectTree(r, tree);
    tree.Clear();
    tree.set_team(cluster_->Team("eng"));
    tree.set_cycle(cycle_);
    ExpectTree(r, tree);

    // WatchGoals: every event up to the marker, none about a hidden goal, and
    // the creation and check-in of every visible one.
    bool found = false;
    auto events = watches[r.who]->ReadUntil(
        [&](const gv1::WatchGoalsResponse& e) {
          return e.has_goal() && e.goal().name() == parent_.name() &&
                 e.goal().title() == "end of the test";
        },
        500, &found);
    ASSERT_TRUE(found) << "the marker never came; got " << events.size();
    watches[r.who]->Cancel();
    std::set<std::string> about;
    std::set<std::string> created, checked_in;
    for (const auto& e : events) {
      std::string goal = GoalOfEvent(e);
      about.insert(goal);
      if (e.has_goal() && e.change_type() == gv1::WatchGoalsResponse::CREATED)
        created.insert(goal);
      if (e.has_check_in()) checked_in.insert(goal);
    }
    std::vector<std::string> visible = Visible(r);
    EXPECT_THAT(about, UnorderedElementsAreArray(visible));
    for (const auto& [v, g] : goals_) {
      EXPECT_EQ(created.contains(g.name()), Sees(r, v))
          << gv1::Goal::Visibility_Name(v);
      EXPECT_EQ(checked_in.contains(g.name()), Sees(r, v))
          << gv1::Goal::Visibility_Name(v);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Db, GoalsVisibilityTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
