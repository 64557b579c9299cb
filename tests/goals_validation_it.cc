// Bad input to every GoalService method answers INVALID_ARGUMENT naming the
// field (google.rpc.BadRequest), and calls without a valid token answer
// UNAUTHENTICATED, unary and streaming alike.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
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
using ::testing::HasSubstr;

using Stub = gv1::GoalService::Stub;

struct Case {
  std::string what;
  std::string field;
  std::function<grpc::Status()> call;
};

class GoalsValidationTest : public ::testing::Test, protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(Db::kSqlite, "FY"));
    for (gv1::Goal* g : {&goal_, &other_}) {
      ASSERT_THAT(cluster_->CreateGoal("ic-eng-1",
                                       GoalMsg(g == &goal_ ? "Main" : "Other",
                                               cluster_->Person("ic-eng-1"),
                                               gv1::INDIVIDUAL, cycle_),
                                       {NumberKr("KR", 0, 100)}, g),
                  GrpcOk());
    }
    auto krs = cluster_->KeyResults("ic-eng-1", goal_.name());
    ASSERT_TRUE(krs.ok() && krs->size() == 1u);
    kr_ = (*krs)[0];
    krs = cluster_->KeyResults("ic-eng-1", other_.name());
    ASSERT_TRUE(krs.ok() && krs->size() == 1u);
    other_kr_ = (*krs)[0];
    token_ = cluster_->Token("ic-eng-1");
  }

  template <typename Req, typename Resp>
  std::function<grpc::Status()> Unary(
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
      Req req, std::string token = "") {
    return [this, method, req, token] {
      Resp resp;
      return cluster_->Call(method, token.empty() ? token_ : token, req, &resp);
    };
  }

  std::function<grpc::Status()> Tree(gv1::GetAlignmentTreeRequest req) {
    return [this, req] {
      std::vector<gv1::AlignmentNode> nodes;
      return cluster_->Tree("ic-eng-1", req, &nodes);
    };
  }

  gv1::CreateGoalRequest NewGoal() {
    gv1::CreateGoalRequest r;
    *r.mutable_goal() =
        GoalMsg("New", cluster_->Person("ic-eng-1"), gv1::INDIVIDUAL, cycle_);
    return r;
  }

  gv1::CreateCheckInRequest NewCheckIn() {
    gv1::CreateCheckInRequest r;
    r.set_parent(goal_.name());
    auto* v = r.mutable_check_in()->add_values();
    v->set_key_result(kr_.name());
    v->set_value(10);
    r.mutable_check_in()->set_confidence(0.5);
    return r;
  }

  std::vector<Case> Cases();

  std::string token_;
  gv1::Goal goal_, other_;
  gv1::KeyResult kr_, other_kr_;
};

std::vector<Case> GoalsValidationTest::Cases() {
  std::vector<Case> c;
  // Cycles.
  {
    gv1::CreateCycleRequest r;
    r.mutable_cycle()->set_display_name("X");
    r.mutable_cycle()->set_start_date("2030-01-01");
    r.mutable_cycle()->set_end_date("2030-12-31");
    auto bad = r;
    bad.mutable_cycle()->set_state(static_cast<gv1::Cycle::State>(42));
    c.push_back({"CreateCycle unknown state", "cycle.state",
                 Unary(&Stub::CreateCycle, bad)});
    bad = r;
    bad.mutable_cycle()->set_start_date("2030-13-01");
    // Only hr_admin creates cycles: the rules are checked for them.
    c.push_back({"CreateCycle bad date", "cycle.start_date",
                 Unary(&Stub::CreateCycle, bad, cluster_->Token("hr"))});
    bad = r;
    bad.mutable_cycle()->set_end_date("2029-12-31");
    c.push_back({"CreateCycle ends before it starts", "cycle.end_date",
                 Unary(&Stub::CreateCycle, bad, cluster_->Token("hr"))});
  }
  {
    gv1::GetCycleRequest r;
    r.set_name("cycles/Not_An_Id");
    c.push_back({"GetCycle malformed name", "name", Unary(&Stub::GetCycle, r)});
  }
  {
    gv1::ListCyclesRequest r;
    r.set_page_size(-1);
    c.push_back({"ListCycles negative page_size", "page_size",
                 Unary(&Stub::ListCycles, r)});
    r.set_page_size(0);
    r.set_page_token("not-a-page-token");
    c.push_back({"ListCycles forged page_token", "page_token",
                 Unary(&Stub::ListCycles, r)});
    r.set_page_token("");
    r.set_state(static_cast<gv1::Cycle::State>(9));
    c.push_back(
        {"ListCycles unknown state", "state", Unary(&Stub::ListCycles, r)});
  }
  {
    gv1::CloseCycleRequest r;
    r.set_name(goal_.name());
    c.push_back(
        {"CloseCycle name of a goal", "name", Unary(&Stub::CloseCycle, r)});
  }
  // Goals.
  {
    auto r = NewGoal();
    r.mutable_goal()->set_owner("ic-eng-1");
    c.push_back({"CreateGoal owner without a collection", "goal.owner",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->set_owner("people/nobody-here");
    // Asked of the people service, for a caller who may set anyone's goals.
    c.push_back({"CreateGoal owner who does not exist", "goal.owner",
                 Unary(&Stub::CreateGoal, r, cluster_->ServiceToken())});
    r = NewGoal();
    r.mutable_goal()->set_level(static_cast<gv1::Level>(7));
    c.push_back({"CreateGoal unknown level", "goal.level",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->set_visibility(static_cast<gv1::Goal::Visibility>(8));
    c.push_back({"CreateGoal unknown visibility", "goal.visibility",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->set_kind(static_cast<gv1::Goal::Kind>(5));
    c.push_back(
        {"CreateGoal unknown kind", "goal.kind", Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->set_parent("goals/");
    c.push_back({"CreateGoal malformed parent", "goal.parent",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->set_title("");
    c.push_back({"CreateGoal without title", "goal.title",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->clear_cycle();
    c.push_back({"CreateGoal without cycle", "goal.cycle",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.mutable_goal()->add_contributors("people/NOT-LOWER");
    c.push_back({"CreateGoal malformed contributor", "goal.contributors[0]",
                 Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    auto* sh = r.mutable_goal()->add_stakeholders();
    sh->set_person(cluster_->Person("mgr-eng"));
    sh->set_role(static_cast<gv1::Stakeholder::Role>(6));
    c.push_back({"CreateGoal unknown stakeholder role",
                 "goal.stakeholders[0].role", Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    auto kr = NumberKr("KR", 0, 10);
    kr.set_measure(static_cast<gv1::KeyResult::Measure>(42));
    *r.add_key_results() = kr;
    c.push_back({"CreateGoal key result with unknown measure",
                 "key_results[0].measure", Unary(&Stub::CreateGoal, r)});
    r = NewGoal();
    r.set_request_id("has a space");
    c.push_back({"CreateGoal request_id with spaces", "request_id",
                 Unary(&Stub::CreateGoal, r)});
  }
  {
    gv1::BatchCreateGoalsRequest r;
    *r.mutable_template_() = GoalMsg("T", "", gv1::INDIVIDUAL, cycle_);
    r.mutable_template_()->clear_owner();
    c.push_back({"BatchCreateGoals without audience", "audience",
                 Unary(&Stub::BatchCreateGoals, r)});
    r.set_team("team/eng");
    c.push_back({"BatchCreateGoals malformed team", "team",
                 Unary(&Stub::BatchCreateGoals, r)});
  }
  {
    gv1::GetGoalRequest r;
    r.set_name("goal/abc");
    c.push_back({"GetGoal malformed name", "name", Unary(&Stub::GetGoal, r)});
    r.set_name(goal_.name());
    *r.mutable_as_of() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(absl::Now() + absl::Hours(24)));
    c.push_back(
        {"GetGoal as_of in the future", "as_of", Unary(&Stub::GetGoal, r)});
    r.mutable_as_of()->set_seconds(1000);
    r.mutable_as_of()->set_nanos(-5);
    c.push_back(
        {"GetGoal as_of not a timestamp", "as_of", Unary(&Stub::GetGoal, r)});
  }
  {
    gv1::ListGoalsRequest r;
    r.set_page_size(-5);
    c.push_back({"ListGoals negative page_size", "page_size",
                 Unary(&Stub::ListGoals, r)});
    r.set_page_size(0);
    r.set_page_token("Zm9yZ2Vk");
    c.push_back({"ListGoals forged page_token", "page_token",
                 Unary(&Stub::ListGoals, r)});
    r.set_page_token("");
    r.set_state(static_cast<gv1::Goal::State>(99));
    c.push_back(
        {"ListGoals unknown state", "state", Unary(&Stub::ListGoals, r)});
    r.set_state(gv1::Goal::STATE_UNSPECIFIED);
    r.set_health(static_cast<gv1::Health>(9));
    c.push_back(
        {"ListGoals unknown health", "health", Unary(&Stub::ListGoals, r)});
    r.set_health(gv1::HEALTH_UNSPECIFIED);
    r.set_owner("groups/eng");
    c.push_back(
        {"ListGoals malformed owner", "owner", Unary(&Stub::ListGoals, r)});
    r.clear_owner();
    r.set_team("teams/ENG");
    c.push_back(
        {"ListGoals malformed team", "team", Unary(&Stub::ListGoals, r)});
  }
  {
    gv1::UpdateGoalRequest r;
    r.mutable_goal()->set_name(goal_.name());
    r.mutable_goal()->set_title("x");
    r.mutable_update_mask()->add_paths("colour");
    c.push_back({"UpdateGoal unknown mask path", "update_mask",
                 Unary(&Stub::UpdateGoal, r)});
    r.clear_update_mask();
    c.push_back(
        {"UpdateGoal empty mask", "update_mask", Unary(&Stub::UpdateGoal, r)});
    r.mutable_update_mask()->add_paths("title");
    r.mutable_goal()->set_name("goals/x/y");
    c.push_back({"UpdateGoal malformed name", "goal.name",
                 Unary(&Stub::UpdateGoal, r)});
    r.mutable_goal()->set_name(goal_.name());
    r.mutable_goal()->set_visibility(static_cast<gv1::Goal::Visibility>(11));
    r.mutable_update_mask()->add_paths("visibility");
    c.push_back({"UpdateGoal unknown visibility", "goal.visibility",
                 Unary(&Stub::UpdateGoal, r)});
    gv1::UpdateGoalRequest dates;
    dates.mutable_goal()->set_name(goal_.name());
    absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    dates.mutable_goal()->set_due_date(absl::FormatCivilTime(day + 30));
    dates.mutable_update_mask()->add_paths("due_date");
    c.push_back({"UpdateGoal new due date without a reason", "reason",
                 Unary(&Stub::UpdateGoal, dates)});
  }
  {
    gv1::DeleteGoalRequest r;
    c.push_back(
        {"DeleteGoal without name", "name", Unary(&Stub::DeleteGoal, r)});
  }
  {
    gv1::ApproveGoalRequest r;
    r.set_name("goals/ABC");
    c.push_back(
        {"ApproveGoal malformed name", "name", Unary(&Stub::ApproveGoal, r)});
    gv1::ReturnGoalRequest ret;
    ret.set_name(goal_.name());
    c.push_back({"ReturnGoal without a comment", "comment",
                 Unary(&Stub::ReturnGoal, ret)});
  }
  // Key results.
  {
    gv1::CreateKeyResultRequest r;
    r.set_parent("nope");
    *r.mutable_key_result() = NumberKr("K", 0, 1);
    c.push_back({"CreateKeyResult malformed parent", "parent",
                 Unary(&Stub::CreateKeyResult, r)});
    r.set_parent(goal_.name());
    r.mutable_key_result()->set_direction(
        static_cast<gv1::KeyResult::Direction>(9));
    c.push_back({"CreateKeyResult unknown direction", "key_result.direction",
                 Unary(&Stub::CreateKeyResult, r)});
    r.mutable_key_result()->set_direction(gv1::KeyResult::INCREASE);
    r.mutable_key_result()->set_name(other_kr_.name());
    c.push_back({"CreateKeyResult name under another goal", "key_result.name",
                 Unary(&Stub::CreateKeyResult, r)});
  }
  {
    gv1::UpdateKeyResultRequest r;
    *r.mutable_key_result() = kr_;
    r.mutable_key_result()->set_target(500);
    r.mutable_update_mask()->add_paths("target");
    c.push_back({"UpdateKeyResult new target without a reason", "reason",
                 Unary(&Stub::UpdateKeyResult, r)});
    r.set_reason("why not");
    r.mutable_update_mask()->set_paths(0, "colour");
    c.push_back({"UpdateKeyResult unknown mask path", "update_mask",
                 Unary(&Stub::UpdateKeyResult, r)});
    r.mutable_key_result()->set_name(goal_.name());
    c.push_back({"UpdateKeyResult malformed name", "key_result.name",
                 Unary(&Stub::UpdateKeyResult, r)});
  }
  {
    gv1::DeleteKeyResultRequest r;
    r.set_name(goal_.name());
    c.push_back({"DeleteKeyResult name of a goal", "name",
                 Unary(&Stub::DeleteKeyResult, r)});
    r.set_name(kr_.name());
    c.push_back({"DeleteKeyResult without a reason", "reason",
                 Unary(&Stub::DeleteKeyResult, r)});
  }
  {
    gv1::ListKeyResultsRequest r;
    c.push_back({"ListKeyResults without parent", "parent",
                 Unary(&Stub::ListKeyResults, r)});
  }
  // Check-ins.
  {
    auto r = NewCheckIn();
    r.set_parent("goals/a/b");
    c.push_back({"CreateCheckIn malformed parent", "parent",
                 Unary(&Stub::CreateCheckIn, r)});
    r = NewCheckIn();
    r.mutable_check_in()->set_status(static_cast<gv1::Health>(12));
    c.push_back({"CreateCheckIn unknown status", "check_in.status",
                 Unary(&Stub::CreateCheckIn, r)});
    r = NewCheckIn();
    r.mutable_check_in()->mutable_values(0)->set_key_result(other_kr_.name());
    c.push_back({"CreateCheckIn key result of another goal",
                 "check_in.values[0].key_result",
                 Unary(&Stub::CreateCheckIn, r)});
    r = NewCheckIn();
    r.mutable_check_in()->set_confidence(1.5);
    c.push_back({"CreateCheckIn confidence above 1", "check_in.confidence",
                 Unary(&Stub::CreateCheckIn, r)});
    r = NewCheckIn();
    r.set_request_id(std::string(129, 'r'));
    c.push_back({"CreateCheckIn request_id too long", "request_id",
                 Unary(&Stub::CreateCheckIn, r)});
  }
  {
    gv1::ListCheckInsRequest r;
    r.set_parent(goal_.name());
    r.set_page_size(-1);
    c.push_back({"ListCheckIns negative page_size", "page_size",
                 Unary(&Stub::ListCheckIns, r)});
  }
  {
    gv1::ListDueCheckInsRequest r;
    c.push_back({"ListDueCheckIns without subject", "subject",
                 Unary(&Stub::ListDueCheckIns, r)});
    r.set_person(cluster_->Person("ic-eng-1"));
    r.set_cadence_days(1000);
    c.push_back({"ListDueCheckIns cadence too long", "cadence_days",
                 Unary(&Stub::ListDueCheckIns, r)});
  }
  {
    gv1::ListGoalRevisionsRequest r;
    r.set_parent(goal_.name());
    r.set_page_token("garbage");
    c.push_back({"ListGoalRevisions forged page_token", "page_token",
                 Unary(&Stub::ListGoalRevisions, r)});
    r.set_page_token("");
    r.set_parent("goals");
    c.push_back({"ListGoalRevisions malformed parent", "parent",
                 Unary(&Stub::ListGoalRevisions, r)});
  }
  // Trees.
  {
    gv1::GetAlignmentTreeRequest r;
    c.push_back({"GetAlignmentTree without root", "root", Tree(r)});
    r.set_team(cluster_->Team("eng"));
    c.push_back({"GetAlignmentTree team without cycle", "cycle", Tree(r)});
    r.set_cycle(cycle_);
    r.set_depth(65);
    c.push_back({"GetAlignmentTree depth too deep", "depth", Tree(r)});
    r.Clear();
    r.set_company(false);
    r.set_cycle(cycle_);
    c.push_back({"GetAlignmentTree company=false", "company", Tree(r)});
    r.Clear();
    r.set_goal("goals/UP");
    c.push_back({"GetAlignmentTree malformed goal", "goal", Tree(r)});
  }
  {
    gv1::GetGoalLineageRequest r;
    r.set_name("people/x");
    c.push_back({"GetGoalLineage name of a person", "name",
                 Unary(&Stub::GetGoalLineage, r)});
  }
  return c;
}

TEST_F(GoalsValidationTest, EveryMethodNamesTheBadField) {
  auto cases = Cases();
  ASSERT_GT(cases.size(), 50u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    grpc::Status s = c.call();
    EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                HasSubstr(c.field)));
    EXPECT_THAT(ViolatedFields(s), Contains(c.field));
  }
  // A page token is bound to the filters it was issued for.
  gv1::ListGoalsRequest list;
  list.set_page_size(1);
  list.set_cycle(cycle_);
  gv1::ListGoalsResponse page;
  ASSERT_THAT(cluster_->Call(&Stub::ListGoals, token_, list, &page), GrpcOk());
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  list.set_state(gv1::Goal::ACTIVE);
  grpc::Status s = cluster_->Call(&Stub::ListGoals, token_, list, &page);
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(s), Contains("page_token"));

  // Nothing was written by any of them.
  gv1::Goal g;
  ASSERT_THAT(cluster_->GetGoal("ic-eng-1", goal_.name(), &g), GrpcOk());
  EXPECT_EQ(g.revision(), goal_.revision());
  std::vector<gv1::Goal> all;
  gv1::ListGoalsRequest every;
  ASSERT_THAT(cluster_->ListAllGoals("hr", every, &all), GrpcOk());
  EXPECT_EQ(all.size(), 2u);
}

TEST_F(GoalsValidationTest, CallsWithoutAValidTokenAreUnauthenticated) {
  const TestTokens& t = cluster_->tokens();
  const std::vector<std::pair<std::string, std::string>> tokens = {
      {"missing", ""},
      {"expired", t.Expired("ic-eng-1@example.com")},
      {"bad signature", t.SignedWithOtherSecret("ic-eng-1@example.com")},
      {"not a JWT", "not-a-jwt"}};
  for (const auto& [what, token] : tokens) {
    SCOPED_TRACE(what);
    gv1::GetGoalRequest get;
    get.set_name(goal_.name());
    gv1::Goal g;
    EXPECT_THAT(cluster_->Call(&Stub::GetGoal, token, get, &g),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_EQ(g.name(), "");
    gv1::CreateGoalRequest create = NewGoal();
    EXPECT_THAT(cluster_->Call(&Stub::CreateGoal, token, create, &g),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));

    GoalWatch watch(cluster_->stub(), token);
    EXPECT_TRUE(watch.Read(1).empty());
    EXPECT_THAT(watch.Finish(),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));

    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    gv1::GetAlignmentTreeRequest tree;
    tree.set_goal(goal_.name());
    auto reader = cluster_->stub()->GetAlignmentTree(&ctx, tree);
    gv1::AlignmentTreeChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_THAT(reader->Finish(),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  }
  // The same calls with a valid token work.
  gv1::GetGoalRequest get;
  get.set_name(goal_.name());
  gv1::Goal g;
  EXPECT_THAT(cluster_->Call(&Stub::GetGoal, token_, get, &g), GrpcOk());
  // Nothing was created without a token.
  std::vector<gv1::Goal> all;
  gv1::ListGoalsRequest every;
  ASSERT_THAT(cluster_->ListAllGoals("hr", every, &all), GrpcOk());
  EXPECT_EQ(all.size(), 2u);
}

}  // namespace
}  // namespace sightline::testing
