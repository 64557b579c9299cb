// WatchGoals through the real binaries, on SQLite and on PostgreSQL: a client
// that disconnects and resumes with its last resume_token gets exactly the
// changes it missed, in commit order, with no gap and no duplicate.

#include <memory>
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
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// "UPDATED goal t4", "UPDATED key_result 40", "CREATED check_in moved to 40".
std::string Describe(const gv1::WatchGoalsResponse& e) {
  std::string type = gv1::WatchGoalsResponse::ChangeType_Name(e.change_type());
  if (e.has_goal()) return absl::StrCat(type, " goal ", e.goal().title());
  if (e.has_key_result())
    return absl::StrCat(type, " key_result ", e.key_result().current());
  if (e.has_check_in())
    return absl::StrCat(type, " check_in ", e.check_in().note());
  if (e.has_cycle())
    return absl::StrCat(type, " cycle ", e.cycle().display_name());
  return type + " nothing";
}

std::vector<std::string> Describe(
    const std::vector<gv1::WatchGoalsResponse>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(Describe(e));
  return out;
}

class GoalsWatchTest : public ::testing::TestWithParam<Db>,
                       protected ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartCluster(GetParam(), "FY"));
    ASSERT_THAT(cluster_->CreateGoal("ic-eng-1",
                                     GoalMsg("t0", cluster_->Person("ic-eng-1"),
                                             gv1::INDIVIDUAL, cycle_),
                                     {NumberKr("KR", 0, 100)}, &goal_),
                GrpcOk());
    auto krs = cluster_->KeyResults("ic-eng-1", goal_.name());
    ASSERT_TRUE(krs.ok()) << krs.status();
    ASSERT_EQ(krs->size(), 1u);
    kr_ = (*krs)[0].name();
  }

  void Rename(const std::string& title) {
    gv1::UpdateGoalRequest req;
    req.mutable_goal()->set_name(goal_.name());
    req.mutable_goal()->set_title(title);
    req.mutable_update_mask()->add_paths("title");
    gv1::Goal out;
    ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                               cluster_->Token("ic-eng-1"), req, &out),
                GrpcOk());
  }

  std::unique_ptr<GoalWatch> Open(const std::string& resume_token = "") {
    return std::make_unique<GoalWatch>(
        cluster_->stub(), cluster_->Token("ic-eng-1"), resume_token);
  }

  gv1::Goal goal_;
  std::string kr_;
};

TEST_P(GoalsWatchTest, ResumeDeliversExactlyTheMissedChangesInOrder) {
  auto first = Open();
  for (int i = 1; i <= 6; ++i) Rename(absl::StrCat("t", i));
  auto seen = first->Read(3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_THAT(Describe(seen), ElementsAre("UPDATED goal t1", "UPDATED goal t2",
                                          "UPDATED goal t3"));
  for (const auto& e : seen) {
    EXPECT_EQ(e.goal().name(), goal_.name());
    EXPECT_FALSE(e.resume_token().empty());
  }
  EXPECT_LT(seen[0].goal().revision(), seen[1].goal().revision());
  EXPECT_LT(seen[1].goal().revision(), seen[2].goal().revision());
  std::string token = seen.back().resume_token();
  EXPECT_THAT(first->Cancel(), GrpcStatusIs(grpc::StatusCode::CANCELLED));

  // More changes while nobody watches, of every kind a check-in makes.
  Rename("t7");
  gv1::CheckIn c;
  ASSERT_THAT(cluster_->CheckIn("ic-eng-1", goal_.name(), kr_, 40, &c),
              GrpcOk());
  Rename("t8");
  Rename("t9");
  Rename("end");

  const std::vector<std::string> missed = {
      "UPDATED goal t4",       "UPDATED goal t5",
      "UPDATED goal t6",       "UPDATED goal t7",
      "UPDATED key_result 40", "CREATED check_in moved to 40",
      "UPDATED goal t7",       "UPDATED goal t8",
      "UPDATED goal t9",       "UPDATED goal end"};
  auto is_end = [](const gv1::WatchGoalsResponse& e) {
    return e.has_goal() && e.goal().title() == "end";
  };
  auto resumed = Open(token);
  bool found = false;
  auto rest = resumed->ReadUntil(is_end, 100, &found);
  ASSERT_TRUE(found) << ::testing::PrintToString(Describe(rest));
  EXPECT_THAT(Describe(rest), ElementsAreArray(missed));
  ASSERT_EQ(rest.size(), missed.size());
  EXPECT_EQ(rest[5].check_in().name(), c.name());
  // Nothing after the last change but what is committed next.
  Rename("after");
  auto next = resumed->Read(1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(Describe(next[0]), "UPDATED goal after");
  resumed->Cancel();

  // The same token again replays the same changes, with the same tokens.
  auto again = Open(token);
  auto replay = again->Read(static_cast<int>(missed.size()));
  EXPECT_THAT(Describe(replay), ElementsAreArray(missed));
  ASSERT_EQ(replay.size(), rest.size());
  for (size_t i = 0; i < rest.size(); ++i)
    EXPECT_EQ(replay[i].resume_token(), rest[i].resume_token()) << i;
  again->Cancel();

  // A resume token from the middle of the missed changes starts right after
  // it.
  auto middle = Open(rest[4].resume_token());
  auto tail = middle->Read(static_cast<int>(missed.size()) - 5);
  EXPECT_THAT(Describe(tail),
              ElementsAreArray(missed.begin() + 5, missed.end()));
  middle->Cancel();
}

// A peer who resumes a stream after a PRIVATE goal was made PUBLIC gets what
// was written since, not the key results and check-ins written while it was
// private (the goal's own rows carry their visibility then).
TEST_P(GoalsWatchTest, AReplayKeepsWhatWasWrittenWhileTheGoalWasPrivate) {
  auto peer = std::make_unique<GoalWatch>(cluster_->stub(),
                                          cluster_->Token("ic-eng-2"));
  Rename("start");
  auto seen = peer->Read(1);
  ASSERT_EQ(seen.size(), 1u);
  const std::string token = seen[0].resume_token();
  peer->Cancel();

  gv1::Goal secret;
  ASSERT_THAT(cluster_->CreateGoal(
                  "ic-eng-1",
                  GoalMsg("secret", cluster_->Person("ic-eng-1"),
                          gv1::INDIVIDUAL, cycle_, "", gv1::Goal::PRIVATE),
                  {NumberKr("KR", 0, 100)}, &secret),
              GrpcOk());
  auto krs = cluster_->KeyResults("ic-eng-1", secret.name());
  ASSERT_TRUE(krs.ok()) << krs.status();
  ASSERT_EQ(krs->size(), 1u);
  gv1::CheckIn c;
  ASSERT_THAT(
      cluster_->CheckIn("ic-eng-1", secret.name(), (*krs)[0].name(), 40, &c),
      GrpcOk());
  gv1::UpdateGoalRequest share;
  share.mutable_goal()->set_name(secret.name());
  share.mutable_goal()->set_title("shared");
  share.mutable_goal()->set_visibility(gv1::Goal::PUBLIC);
  share.mutable_update_mask()->add_paths("title");
  share.mutable_update_mask()->add_paths("visibility");
  gv1::Goal shared;
  ASSERT_THAT(cluster_->Call(&gv1::GoalService::Stub::UpdateGoal,
                             cluster_->Token("ic-eng-1"), share, &shared),
              GrpcOk());
  ASSERT_THAT(
      cluster_->CheckIn("ic-eng-1", secret.name(), (*krs)[0].name(), 60, &c),
      GrpcOk());
  Rename("end");

  auto is_end = [](const gv1::WatchGoalsResponse& e) {
    return e.has_goal() && e.goal().title() == "end";
  };
  auto resumed = std::make_unique<GoalWatch>(
      cluster_->stub(), cluster_->Token("ic-eng-2"), token);
  bool found = false;
  auto rest = resumed->ReadUntil(is_end, 100, &found);
  ASSERT_TRUE(found) << ::testing::PrintToString(Describe(rest));
  EXPECT_THAT(Describe(rest),
              ElementsAre("UPDATED goal shared", "UPDATED key_result 60",
                          "CREATED check_in moved to 60", "UPDATED goal shared",
                          "UPDATED goal end"));
  resumed->Cancel();

  // The owner replays everything.
  auto own = Open(token);
  auto all = own->ReadUntil(is_end, 100, &found);
  ASSERT_TRUE(found);
  EXPECT_THAT(Describe(all),
              ::testing::Contains("CREATED check_in moved to 40"));
  own->Cancel();
}

TEST_P(GoalsWatchTest, ATokenThatIsNotOneIsRefused) {
  auto w = Open("bm90IGEgdG9rZW4");
  EXPECT_TRUE(w->Read(1).empty());
  grpc::Status s = w->Finish();
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(s), ::testing::Contains("resume_token"));
}

INSTANTIATE_TEST_SUITE_P(Db, GoalsWatchTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
