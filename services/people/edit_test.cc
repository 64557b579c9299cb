#include "services/people/edit.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/testing/status_matchers.h"

namespace sightline::people {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Person P(std::string id, std::string manager = "", std::string team = "") {
  Person p;
  p.id = id;
  p.external_id = absl::StrCat("E-", id);
  p.email = absl::StrCat(id, "@example.com");
  p.display_name = absl::StrCat("Person ", id);
  p.manager_id = std::move(manager);
  p.team_id = std::move(team);
  p.roles = {"manager"};
  p.start_date = "2020-01-01";
  p.revision = 3;
  return p;
}

Team T(std::string id) {
  Team t;
  t.id = id;
  t.external_id = absl::StrCat("T-", id);
  t.display_name = absl::StrCat("Team ", id);
  t.revision = 2;
  return t;
}

Snapshot Org() {
  Snapshot s;
  s.teams = {T("t1"), T("t2")};
  s.people = {P("a", "", "t1"), P("b", "a", "t1"), P("c", "a", "t2")};
  return s;
}

TEST(PersonEditTest, CreateTurnsIdsIntoTheRecordsKeys) {
  PersonEdit e;
  e.create = true;
  e.desired.email = "New.Person@Example.com";
  e.desired.display_name = "New Person";
  e.desired.manager_id = "b";
  e.desired.team_id = "t2";
  auto in = PlanPersonEdit(Org(), e);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->mode, SyncMode::kIncremental);
  ASSERT_THAT(in->people, SizeIs(1));
  const PersonRecord& r = in->people[0];
  EXPECT_EQ(r.external_id, "new.person@example.com");  // no external id given
  EXPECT_EQ(r.manager_external_id, "E-b");
  EXPECT_EQ(r.team_external_id, "T-t2");
  EXPECT_THAT(in->teams, IsEmpty());
}

TEST(PersonEditTest, CreateRefusesATakenEmailOrExternalId) {
  PersonEdit e;
  e.create = true;
  e.desired.email = "B@example.com";
  e.desired.external_id = "E-new";
  e.desired.display_name = "Dup";
  auto in = PlanPersonEdit(Org(), e);
  EXPECT_THAT(in.status(), StatusIs(absl::StatusCode::kAlreadyExists,
                                    HasSubstr("b@example.com")));
  EXPECT_EQ(status::ErrorReason(in.status()), "UNIQUENESS");
  e.desired.email = "fresh@example.com";
  e.desired.external_id = "E-c";
  EXPECT_THAT(PlanPersonEdit(Org(), e).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("E-c")));
}

TEST(PersonEditTest, UpdateChecksExistenceRevisionAndKey) {
  Snapshot s = Org();
  PersonEdit e;
  e.desired = s.people[1];
  e.desired.id = "zz";
  EXPECT_THAT(PlanPersonEdit(s, e).status(),
              StatusIs(absl::StatusCode::kNotFound));
  e.desired.id = "b";
  e.expected_revision = 2;
  EXPECT_THAT(PlanPersonEdit(s, e).status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("revision 3")));
  e.expected_revision = 3;
  e.desired.external_id = "E-other";
  auto moved = PlanPersonEdit(s, e);
  EXPECT_THAT(moved.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("external_id")));
  EXPECT_EQ(status::ErrorReason(moved.status()), "MUTABILITY");
  e.desired.external_id = "";
  e.desired.email = "c@example.com";  // c's
  EXPECT_THAT(PlanPersonEdit(s, e).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(PersonEditTest, UnknownManagerOrTeamIsNamed) {
  PersonEdit e;
  e.desired = Org().people[1];
  e.desired.manager_id = "ghost";
  EXPECT_THAT(
      PlanPersonEdit(Org(), e).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("manager_id")));
  e.desired.manager_id = "a";
  e.desired.team_id = "ghost";
  EXPECT_THAT(
      PlanPersonEdit(Org(), e).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("team_id")));
}

TEST(PersonEditTest, UpdateKeepsRolesAndDatesAndReactivationDropsEndDate) {
  Snapshot s = Org();
  s.people[2].status = PersonStatus::kTerminated;
  s.people[2].end_date = "2026-01-31";
  PersonEdit e;
  e.desired = s.people[2];
  e.desired.roles.clear();
  e.desired.start_date.clear();
  auto still = PlanPersonEdit(s, e);
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->people[0].end_date, "2026-01-31");
  EXPECT_EQ(still->people[0].start_date, "2020-01-01");
  EXPECT_EQ(still->people[0].roles, std::vector<std::string>{"manager"});
  e.desired.status = PersonStatus::kActive;
  auto back = PlanPersonEdit(s, e);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->people[0].status, static_cast<int>(PersonStatus::kActive));
  EXPECT_EQ(back->people[0].end_date, "");
}

TEST(TeamEditTest, MembershipChangesTouchOnlyPeopleWhoMove) {
  Snapshot s = Org();
  TeamEdit e;
  e.desired = s.teams[0];      // t1: a and b
  e.add_members = {"c", "a"};  // c moves in from t2; a is already in
  e.remove_members = {"b"};
  auto in = PlanTeamEdit(s, e);
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_THAT(in->teams, SizeIs(1));
  EXPECT_EQ(in->teams[0].external_id, "T-t1");
  ASSERT_THAT(in->people, SizeIs(2));
  EXPECT_EQ(in->people[0].external_id, "E-b");
  EXPECT_EQ(in->people[0].team_external_id, "");
  EXPECT_EQ(in->people[0].manager_external_id, "E-a");  // kept
  EXPECT_EQ(in->people[1].external_id, "E-c");
  EXPECT_EQ(in->people[1].team_external_id, "T-t1");
}

TEST(TeamEditTest, WholeMembershipReplacesAndUnknownMembersAreRefused) {
  Snapshot s = Org();
  TeamEdit e;
  e.desired = s.teams[0];
  e.members = std::vector<std::string>{"c"};
  auto in = PlanTeamEdit(s, e);
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_THAT(in->people, SizeIs(3));  // a and b leave, c joins
  for (const auto& r : in->people) {
    EXPECT_EQ(r.team_external_id, r.external_id == "E-c" ? "T-t1" : "");
  }
  e.members = std::vector<std::string>{"ghost"};
  EXPECT_THAT(
      PlanTeamEdit(s, e).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("members")));
}

TEST(TeamEditTest, CreateUsesTheNameAsKeyAndRefusesATakenKey) {
  TeamEdit e;
  e.create = true;
  e.desired.display_name = "Platform";
  e.add_members = {"a"};
  auto in = PlanTeamEdit(Org(), e);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->teams[0].external_id, "Platform");
  ASSERT_THAT(in->people, SizeIs(1));
  EXPECT_EQ(in->people[0].team_external_id, "Platform");
  e.desired.external_id = "T-t2";
  EXPECT_THAT(PlanTeamEdit(Org(), e).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(TeamEditTest, StaleRevisionIsAborted) {
  TeamEdit e;
  e.desired = Org().teams[1];
  e.expected_revision = 1;
  EXPECT_THAT(PlanTeamEdit(Org(), e).status(),
              StatusIs(absl::StatusCode::kAborted));
}

}  // namespace
}  // namespace sightline::people
