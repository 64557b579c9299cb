#include "services/goals/access.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/org/fake_org.h"

namespace sightline::goals {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using FakeOrg = org::FakeOrgView;

// A small company:
//
//   teams                          people (manager)
//   company   lead ceo             ceo
//   ├ eng     lead vp_eng          vp_eng (ceo), vp_sales (ceo)
//   │ ├ platform  lead leo         mona (vp_eng)    manages owen, pat
//   │ │ └ storage lead stella      owen, pat, gone* (mona)   * inactive
//   │ └ orphans   no lead          stella (mona), sam (stella)
//   ├ arch    lead vic             leo (vic): leads platform from arch
//   ├ sales   lead vp_sales        vic (ceo)
//   │ └ emea  lead mel             mel (vp_sales), eve, cora (mel)
//   └ hr      lead hana            hana (ceo), an hr_admin
//
// owen's goals have cora (from sales) as a contributor. leo leads platform
// but reports elsewhere (vic), so that the lead, the lead's manager and the
// owner's chain (mona, vp_eng, ceo) are different people.
class AccessTest : public ::testing::Test {
 protected:
  AccessTest() {
    org_.AddTeam("company", "", "ceo");
    org_.AddTeam("eng", "company", "vp_eng");
    org_.AddTeam("platform", "eng", "leo");
    org_.AddTeam("storage", "platform", "stella");
    org_.AddTeam("orphans", "eng", "");
    org_.AddTeam("arch", "company", "vic");
    org_.AddTeam("sales", "company", "vp_sales");
    org_.AddTeam("emea", "sales", "mel");
    org_.AddTeam("hr", "company", "hana");

    org_.AddPerson("ceo", "company", "");
    org_.AddPerson("vp_eng", "eng", "ceo");
    org_.AddPerson("vp_sales", "sales", "ceo");
    org_.AddPerson("mona", "eng", "vp_eng");
    org_.AddPerson("owen", "platform", "mona");
    org_.AddPerson("pat", "platform", "mona");
    org_.AddPerson("gone", "platform", "mona", /*active=*/false);
    org_.AddPerson("stella", "storage", "mona");
    org_.AddPerson("sam", "storage", "stella");
    org_.AddPerson("vic", "arch", "ceo");
    org_.AddPerson("leo", "arch", "vic");
    org_.AddPerson("mel", "emea", "vp_sales");
    org_.AddPerson("eve", "emea", "mel");
    org_.AddPerson("cora", "emea", "mel");
    org_.AddPerson("hana", "hr", "ceo");
  }

  static Caller Person(const std::string& id) {
    return Caller{.person_id = id};
  }
  static Caller HrAdmin() {
    return Caller{.person_id = "hana", .hr_admin = true};
  }
  static Caller Service() {
    Caller c;
    c.service = true;
    return c;
  }

  static Goal PersonGoal(Visibility v) {
    Goal g;
    g.id = "g-owen";
    g.owner.person_id = "owen";
    g.contributor_ids = {"cora"};
    g.stakeholders = {{"eve", StakeholderRole::kInformed}};
    g.visibility = v;
    return g;
  }

  static Goal TeamGoal(Visibility v) {
    Goal g;
    g.id = "g-platform";
    g.owner.team_id = "platform";
    g.level = Level::kTeam;
    g.contributor_ids = {"cora"};
    g.visibility = v;
    return g;
  }

  FakeOrg org_;
};

TEST_F(AccessTest, GoalTeamAndAccountablePerson) {
  const Goal mine = PersonGoal(Visibility::kPublic);
  EXPECT_EQ(GoalTeam(org_, mine), "platform");
  EXPECT_EQ(AccountablePerson(org_, mine), "owen");
  const Goal team = TeamGoal(Visibility::kPublic);
  EXPECT_EQ(GoalTeam(org_, team), "platform");
  EXPECT_EQ(AccountablePerson(org_, team), "leo");
  Goal unknown = mine;
  unknown.owner.person_id = "stranger";
  EXPECT_EQ(GoalTeam(org_, unknown), "");
  Goal leaderless = team;
  leaderless.owner.team_id = "orphans";
  EXPECT_EQ(AccountablePerson(org_, leaderless), "");
}

// ------------------------------------------------------------- read matrix

struct ReadRow {
  const char* role;
  Caller caller;
  bool public_goal;
  bool team_goal;
  bool private_goal;
};

void ExpectReads(const std::vector<ReadRow>& rows, Goal (*make)(Visibility),
                 const OrgView& org) {
  for (const ReadRow& row : rows) {
    SCOPED_TRACE(row.role);
    EXPECT_EQ(CanRead(row.caller, make(Visibility::kPublic), org),
              row.public_goal);
    EXPECT_EQ(CanRead(row.caller, make(Visibility::kTeam), org), row.team_goal);
    EXPECT_EQ(CanRead(row.caller, make(Visibility::kPrivate), org),
              row.private_goal);
  }
}

TEST_F(AccessTest, ReadMatrixForAPersonsGoal) {
  ExpectReads(
      {
          // role                      caller                pub team priv
          {"owner", Person("owen"), true, true, true},
          {"contributor", Person("cora"), true, true, true},
          {"manager", Person("mona"), true, true, true},
          {"skip-level manager", Person("vp_eng"), true, true, true},
          {"ceo", Person("ceo"), true, true, true},
          {"team member", Person("pat"), true, true, false},
          {"sub-team member", Person("sam"), true, true, false},
          {"sub-team lead", Person("stella"), true, true, false},
          {"team lead", Person("leo"), true, true, false},
          {"lead's manager", Person("vic"), true, true, false},
          {"unrelated employee", Person("eve"), true, false, false},
          {"other vp", Person("vp_sales"), true, false, false},
          {"hr_admin", HrAdmin(), true, true, true},
          {"hr person without the role", Person("hana"), true, false, false},
          {"service", Service(), true, true, true},
          {"inactive team member", Person("gone"), true, false, false},
          {"unknown person", Person("stranger"), true, false, false},
          {"no person", Caller{}, true, false, false},
      },
      &AccessTest::PersonGoal, org_);
}

TEST_F(AccessTest, ReadMatrixForATeamsGoal) {
  ExpectReads(
      {
          {"owner (team lead)", Person("leo"), true, true, true},
          {"contributor", Person("cora"), true, true, true},
          {"lead's manager", Person("vic"), true, true, true},
          {"ceo", Person("ceo"), true, true, true},
          {"team member", Person("owen"), true, true, false},
          {"team member 2", Person("pat"), true, true, false},
          {"sub-team member", Person("sam"), true, true, false},
          {"sub-team lead", Person("stella"), true, true, false},
          // Manages team members, but is not in the lead's chain and not in
          // the team.
          {"members' manager", Person("mona"), true, false, false},
          {"unrelated employee", Person("eve"), true, false, false},
          {"hr_admin", HrAdmin(), true, true, true},
          {"service", Service(), true, true, true},
          {"inactive team member", Person("gone"), true, false, false},
          {"no person", Caller{}, true, false, false},
      },
      &AccessTest::TeamGoal, org_);
}

TEST_F(AccessTest, StakeholdersGetNoRightsFromBeingStakeholders) {
  // eve is an INFORMED stakeholder of owen's goal.
  EXPECT_FALSE(CanRead(Person("eve"), PersonGoal(Visibility::kPrivate), org_));
  EXPECT_FALSE(CanRead(Person("eve"), PersonGoal(Visibility::kTeam), org_));
  EXPECT_FALSE(
      CanCheckIn(Person("eve"), PersonGoal(Visibility::kPublic), org_));
}

TEST_F(AccessTest, InactiveCallerLosesEvenOwnership) {
  Goal g = PersonGoal(Visibility::kPrivate);
  g.owner.person_id = "gone";
  EXPECT_FALSE(CanRead(Person("gone"), g, org_));
  EXPECT_FALSE(CanEdit(Person("gone"), g, org_));
  EXPECT_FALSE(CanCheckIn(Person("gone"), g, org_));
  // The departed owner's manager still manages the goal.
  EXPECT_TRUE(CanRead(Person("mona"), g, org_));
  EXPECT_TRUE(CanEdit(Person("mona"), g, org_));
  EXPECT_TRUE(CanApprove(Person("mona"), g, org_));
}

TEST_F(AccessTest, InactiveManagerInTheMiddleOfTheChain) {
  org_.AddPerson("gone_mgr", "eng", "vp_eng", /*active=*/false);
  org_.AddPerson("ivy", "platform", "gone_mgr");
  Goal g = PersonGoal(Visibility::kPrivate);
  g.owner.person_id = "ivy";
  g.contributor_ids.clear();
  EXPECT_THAT(ManagementChain(org_, "ivy"),
              ElementsAre("gone_mgr", "vp_eng", "ceo"));
  EXPECT_FALSE(CanEdit(Person("gone_mgr"), g, org_));
  EXPECT_TRUE(CanEdit(Person("vp_eng"), g, org_));
  EXPECT_TRUE(CanApprove(Person("vp_eng"), g, org_));
}

TEST_F(AccessTest, InvalidVisibilityIsTreatedAsPrivate) {
  const Goal g = PersonGoal(static_cast<Visibility>(0));
  EXPECT_FALSE(CanRead(Person("pat"), g, org_));
  EXPECT_FALSE(CanRead(Person("eve"), g, org_));
  EXPECT_TRUE(CanRead(Person("owen"), g, org_));
  EXPECT_TRUE(CanRead(HrAdmin(), g, org_));
}

TEST_F(AccessTest, HrAdminRightsComeFromTheTokenAlone) {
  const Caller unknown_admin{.person_id = "stranger", .hr_admin = true};
  EXPECT_TRUE(CanRead(unknown_admin, PersonGoal(Visibility::kPrivate), org_));
  Caller no_person_admin;
  no_person_admin.hr_admin = true;
  EXPECT_TRUE(CanRead(no_person_admin, TeamGoal(Visibility::kTeam), org_));
}

TEST_F(AccessTest, TeamGoalOfALeaderlessTeam) {
  Goal g = TeamGoal(Visibility::kTeam);
  g.owner.team_id = "orphans";
  g.contributor_ids.clear();
  org_.AddPerson("olga", "orphans", "vp_eng");
  EXPECT_TRUE(CanRead(Person("olga"), g, org_));     // member
  EXPECT_FALSE(CanRead(Person("vp_eng"), g, org_));  // no lead, no chain
  EXPECT_FALSE(CanEdit(Person("olga"), g, org_));
  EXPECT_FALSE(CanEdit(Person("vp_eng"), g, org_));
  EXPECT_FALSE(CanApprove(Person("vp_eng"), g, org_));
  EXPECT_TRUE(CanEdit(Service(), g, org_));
}

TEST_F(AccessTest, TeamGoalReadTerminatesOnTeamLoops) {
  org_.AddTeam("t1", "t2", "");
  org_.AddTeam("t2", "t1", "");
  org_.AddPerson("looper", "t1", "");
  EXPECT_FALSE(CanRead(Person("looper"), PersonGoal(Visibility::kTeam), org_));
}

// ------------------------------------------------------ edit, check in,
// approve

struct ActRow {
  const char* role;
  Caller caller;
  bool edit;
  bool check_in;
  bool approve;
};

void ExpectActs(const std::vector<ActRow>& rows, const Goal& goal,
                const OrgView& org) {
  for (const ActRow& row : rows) {
    SCOPED_TRACE(row.role);
    EXPECT_EQ(CanEdit(row.caller, goal, org), row.edit);
    EXPECT_EQ(CanCheckIn(row.caller, goal, org), row.check_in);
    EXPECT_EQ(CanApprove(row.caller, goal, org), row.approve);
  }
}

TEST_F(AccessTest, ActingOnAPersonsGoal) {
  ExpectActs(
      {
          // role                       caller           edit check approve
          {"owner", Person("owen"), true, true, false},
          {"manager", Person("mona"), true, true, true},
          {"skip-level manager", Person("vp_eng"), true, true, true},
          {"ceo", Person("ceo"), true, true, true},
          {"contributor", Person("cora"), false, true, false},
          {"contributor's manager", Person("mel"), false, false, false},
          {"team member", Person("pat"), false, false, false},
          {"sub-team member", Person("sam"), false, false, false},
          {"team lead", Person("leo"), false, false, false},
          {"lead's manager", Person("vic"), false, false, false},
          {"stakeholder", Person("eve"), false, false, false},
          {"hr_admin", HrAdmin(), false, false, false},
          {"service", Service(), true, true, false},
          {"unknown person", Person("stranger"), false, false, false},
          {"no person", Caller{}, false, false, false},
      },
      PersonGoal(Visibility::kPublic), org_);
}

TEST_F(AccessTest, ActingOnATeamsGoal) {
  ExpectActs(
      {
          {"owner (team lead)", Person("leo"), true, true, false},
          {"lead's manager", Person("vic"), true, true, true},
          {"ceo", Person("ceo"), true, true, true},
          {"contributor", Person("cora"), false, true, false},
          {"team member", Person("owen"), false, false, false},
          {"sub-team lead", Person("stella"), false, false, false},
          {"members' manager", Person("mona"), false, false, false},
          {"engineering vp", Person("vp_eng"), false, false, false},
          {"hr_admin", HrAdmin(), false, false, false},
          {"service", Service(), true, true, false},
      },
      TeamGoal(Visibility::kPublic), org_);
}

// Aligning under a goal needs more than reading it: a child moves the
// parent's progress. Every goal here is PUBLIC, so every caller reads it.
TEST_F(AccessTest, WhoMayAlignUnderAPersonsGoal) {
  org_.AddPerson("ivy", "platform", "owen");  // reports to the owner
  org_.AddPerson("ian", "storage", "ivy");    // and one level below
  const Goal parent = PersonGoal(Visibility::kPublic);
  const std::vector<std::pair<const char*, Caller>> allowed = {
      {"owner", Person("owen")},        {"manager", Person("mona")},
      {"skip-level", Person("vp_eng")}, {"contributor", Person("cora")},
      {"report", Person("ivy")},        {"report's report", Person("ian")},
      {"service", Service()},
  };
  const std::vector<std::pair<const char*, Caller>> refused = {
      {"peer in the same team", Person("pat")},
      {"sub-team member", Person("sam")},
      {"team lead, not a manager", Person("leo")},
      {"another team", Person("mel")},
      {"stakeholder", Person("eve")},
      {"hr_admin", HrAdmin()},
      {"someone who left", Person("gone")},
      {"unknown person", Person("stranger")},
      {"no person", Caller{}},
  };
  for (const auto& [role, caller] : allowed) {
    SCOPED_TRACE(role);
    EXPECT_TRUE(CanRead(caller, parent, org_));
    EXPECT_TRUE(CanAlignUnder(caller, parent, org_));
  }
  for (const auto& [role, caller] : refused) {
    SCOPED_TRACE(role);
    EXPECT_FALSE(CanAlignUnder(caller, parent, org_));
  }
}

TEST_F(AccessTest, WhoMayAlignUnderATeamsGoal) {
  const Goal parent = TeamGoal(Visibility::kPublic);
  const std::vector<std::pair<const char*, Caller>> allowed = {
      {"owner (team lead)", Person("leo")},
      {"lead's manager", Person("vic")},
      {"ceo", Person("ceo")},
      {"contributor", Person("cora")},
      {"team member", Person("owen")},
      {"another team member", Person("pat")},
      {"sub-team lead", Person("stella")},
      {"sub-team member", Person("sam")},
      {"service", Service()},
  };
  const std::vector<std::pair<const char*, Caller>> refused = {
      {"members' manager in the parent team", Person("mona")},
      {"parent team's lead", Person("vp_eng")},
      {"another team", Person("eve")},
      {"hr_admin", HrAdmin()},
      {"member who left", Person("gone")},
      {"no person", Caller{}},
  };
  for (const auto& [role, caller] : allowed) {
    SCOPED_TRACE(role);
    EXPECT_TRUE(CanAlignUnder(caller, parent, org_));
  }
  for (const auto& [role, caller] : refused) {
    SCOPED_TRACE(role);
    EXPECT_TRUE(CanRead(caller, parent, org_));
    EXPECT_FALSE(CanAlignUnder(caller, parent, org_));
  }
}

TEST_F(AccessTest, InactiveContributorCannotCheckIn) {
  Goal g = PersonGoal(Visibility::kPublic);
  g.contributor_ids = {"gone"};
  EXPECT_FALSE(CanCheckIn(Person("gone"), g, org_));
}

TEST_F(AccessTest, HrAdminWhoIsAlsoAManagerApprovesAsAManager) {
  const Caller mona_admin{.person_id = "mona", .hr_admin = true};
  EXPECT_TRUE(CanApprove(mona_admin, PersonGoal(Visibility::kPublic), org_));
  const Caller owen_admin{.person_id = "owen", .hr_admin = true};
  EXPECT_FALSE(CanApprove(owen_admin, PersonGoal(Visibility::kPublic), org_));
}

TEST_F(AccessTest, OwnerNeverApprovesEvenInAManagementLoop) {
  org_.AddPerson("a", "", "b");
  org_.AddPerson("b", "", "a");
  Goal g = PersonGoal(Visibility::kPublic);
  g.owner.person_id = "a";
  g.contributor_ids.clear();
  EXPECT_FALSE(CanApprove(Person("a"), g, org_));
  EXPECT_TRUE(CanApprove(Person("b"), g, org_));
}

}  // namespace
}  // namespace sightline::goals
