#include "lib/org/access.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lib/org/fake_org.h"

namespace sightline::org {
namespace {

// Who is asking, by a name the expectations below use. See AddSmallCompany
// for the org; the objects are owen's (a person) and platform's (a team, led
// by leo, who reports to vic), each with cora (from sales) as a contributor.
const std::map<std::string, Caller>& Callers() {
  static const auto* callers = new std::map<std::string, Caller>{
      {"owen", {.person_id = "owen"}},    // owns the person's object
      {"leo", {.person_id = "leo"}},      // leads the owner team
      {"vic", {.person_id = "vic"}},      // leo's manager
      {"cora", {.person_id = "cora"}},    // contributor
      {"mona", {.person_id = "mona"}},    // owen's manager
      {"ceo", {.person_id = "ceo"}},      // everyone's chain
      {"pat", {.person_id = "pat"}},      // owen's teammate (platform)
      {"sam", {.person_id = "sam"}},      // member of a sub-team (storage)
      {"eve", {.person_id = "eve"}},      // unrelated
      {"gone", {.person_id = "gone"}},    // left; was in platform
      {"ghost", {.person_id = "ghost"}},  // unknown to the org view
      {"anonymous", {}},                  // no person, no role
      {"hr_admin", {.person_id = "hana", .hr_admin = true}},
      {"hr_admin_no_person", {.person_id = "", .hr_admin = true}},
      {"service", {.person_id = "", .service = true}},
  };
  return *callers;
}

struct Expected {
  std::string who;
  bool read_team;
  bool read_private;
  bool edit;
};

Owned MakeOwned(const std::string& person, const std::string& team,
                Visibility v = Visibility::kPublic,
                std::vector<std::string> contributors = {}) {
  Owned owned;
  owned.owner_person_id = person;
  owned.owner_team_id = team;
  owned.contributor_ids = std::move(contributors);
  owned.visibility = v;
  return owned;
}

Owned PersonOwned(Visibility v) { return MakeOwned("owen", "", v, {"cora"}); }
Owned TeamOwned(Visibility v) { return MakeOwned("", "platform", v, {"cora"}); }

class OwnedAccessTest : public ::testing::Test {
 protected:
  OwnedAccessTest() { AddSmallCompany(&org_); }

  // Every caller reads PUBLIC objects; TEAM and PRIVATE ones and editing are
  // as `expected` says. Edit rights do not depend on the visibility.
  void ExpectMatrix(Owned (*make)(Visibility),
                    const std::vector<Expected>& expected) {
    ASSERT_EQ(expected.size(), Callers().size());
    for (const Expected& e : expected) {
      SCOPED_TRACE(e.who);
      ASSERT_TRUE(Callers().contains(e.who));
      const Caller& caller = Callers().at(e.who);
      EXPECT_TRUE(CanRead(caller, make(Visibility::kPublic), org_));
      EXPECT_EQ(CanRead(caller, make(Visibility::kTeam), org_), e.read_team);
      EXPECT_EQ(CanRead(caller, make(Visibility::kPrivate), org_),
                e.read_private);
      for (Visibility v :
           {Visibility::kPublic, Visibility::kTeam, Visibility::kPrivate}) {
        EXPECT_EQ(CanEdit(caller, make(v), org_), e.edit);
      }
    }
  }

  FakeOrgView org_;
};

TEST_F(OwnedAccessTest, PersonOwnedMatrix) {
  ExpectMatrix(&PersonOwned,
               {
                   // who, read TEAM, read PRIVATE, edit
                   {"owen", true, true, true},
                   {"leo", true, false, false},  // leads owen's team
                   {"vic", true, false, false},  // in that lead's chain
                   {"cora", true, true, false},
                   {"mona", true, true, true},
                   {"ceo", true, true, true},
                   {"pat", true, false, false},
                   {"sam", true, false, false},
                   {"eve", false, false, false},
                   {"gone", false, false, false},
                   {"ghost", false, false, false},
                   {"anonymous", false, false, false},
                   {"hr_admin", true, true, false},
                   {"hr_admin_no_person", true, true, false},
                   {"service", true, true, true},
               });
}

TEST_F(OwnedAccessTest, TeamOwnedMatrix) {
  ExpectMatrix(&TeamOwned,
               {
                   // who, read TEAM, read PRIVATE, edit
                   {"owen", true, false, false},  // a member, no owner
                   {"leo", true, true, true},
                   {"vic", true, true, true},
                   {"cora", true, true, false},
                   {"mona", false, false, false},  // eng: a parent team
                   {"ceo", true, true, true},
                   {"pat", true, false, false},
                   {"sam", true, false, false},
                   {"eve", false, false, false},
                   {"gone", false, false, false},
                   {"ghost", false, false, false},
                   {"anonymous", false, false, false},
                   {"hr_admin", true, true, false},
                   {"hr_admin_no_person", true, true, false},
                   {"service", true, true, true},
               });
}

TEST_F(OwnedAccessTest, OwnedTeamAndAccountablePerson) {
  EXPECT_EQ(OwnedTeam(org_, PersonOwned(Visibility::kTeam)), "platform");
  EXPECT_EQ(AccountablePerson(org_, PersonOwned(Visibility::kTeam)), "owen");
  EXPECT_EQ(OwnedTeam(org_, TeamOwned(Visibility::kTeam)), "platform");
  EXPECT_EQ(AccountablePerson(org_, TeamOwned(Visibility::kTeam)), "leo");

  const Owned orphans = MakeOwned("", "orphans");  // a team without a lead
  EXPECT_EQ(OwnedTeam(org_, orphans), "orphans");
  EXPECT_EQ(AccountablePerson(org_, orphans), "");
  const Owned stranger = MakeOwned("ghost", "");
  EXPECT_EQ(OwnedTeam(org_, stranger), "");
  EXPECT_EQ(AccountablePerson(org_, stranger), "ghost");
  EXPECT_EQ(OwnedTeam(org_, Owned{}), "");
  EXPECT_EQ(AccountablePerson(org_, Owned{}), "");
}

TEST_F(OwnedAccessTest, InactiveOwnerKeepsOnlyWhatEveryoneHas) {
  const Caller gone{.person_id = "gone"};
  for (Visibility v : {Visibility::kTeam, Visibility::kPrivate}) {
    const Owned owned = MakeOwned("gone", "", v);
    EXPECT_FALSE(CanRead(gone, owned, org_));
    EXPECT_FALSE(CanEdit(gone, owned, org_));
    // Their manager still acts on what they left behind.
    EXPECT_TRUE(CanRead(Caller{.person_id = "mona"}, owned, org_));
    EXPECT_TRUE(CanEdit(Caller{.person_id = "mona"}, owned, org_));
  }
  EXPECT_TRUE(CanRead(gone, MakeOwned("gone", ""), org_));
}

TEST_F(OwnedAccessTest, ALeaderlessOwnerTeamGivesNobodyALeadsRights) {
  const Owned owned = MakeOwned("", "orphans", Visibility::kPrivate);
  // vp_eng leads the parent team: no fallback to a parent's lead.
  EXPECT_FALSE(CanRead(Caller{.person_id = "vp_eng"}, owned, org_));
  EXPECT_FALSE(CanEdit(Caller{.person_id = "vp_eng"}, owned, org_));
  EXPECT_FALSE(CanEdit(Caller{.person_id = "ceo"}, owned, org_));
  EXPECT_TRUE(CanEdit(Caller{.person_id = "", .service = true}, owned, org_));
}

TEST_F(OwnedAccessTest, InvalidVisibilityIsTreatedAsPrivate) {
  for (int raw : {0, 4, -1}) {
    SCOPED_TRACE(raw);
    Owned owned = PersonOwned(static_cast<Visibility>(raw));
    EXPECT_FALSE(CanRead(Caller{.person_id = "pat"}, owned, org_));
    EXPECT_FALSE(CanRead(Caller{}, owned, org_));
    EXPECT_TRUE(CanRead(Caller{.person_id = "mona"}, owned, org_));
    EXPECT_TRUE(
        CanRead(Caller{.person_id = "hana", .hr_admin = true}, owned, org_));
  }
}

TEST_F(OwnedAccessTest, Parts) {
  const Owned mine = PersonOwned(Visibility::kPrivate);
  const Owned ours = TeamOwned(Visibility::kPrivate);
  EXPECT_TRUE(IsActivePerson(Caller{.person_id = "owen"}, org_));
  EXPECT_FALSE(IsActivePerson(Caller{.person_id = "gone"}, org_));
  EXPECT_FALSE(IsActivePerson(Caller{.person_id = "ghost"}, org_));
  EXPECT_FALSE(IsActivePerson(Caller{.person_id = "", .service = true}, org_));

  EXPECT_TRUE(IsOwner(Caller{.person_id = "owen"}, mine, org_));
  EXPECT_FALSE(IsOwner(Caller{.person_id = "owen"}, ours, org_));
  EXPECT_TRUE(IsOwner(Caller{.person_id = "leo"}, ours, org_));
  EXPECT_FALSE(IsOwner(Caller{}, Owned{}, org_));  // no owner is nobody's

  EXPECT_TRUE(IsContributor(Caller{.person_id = "cora"}, mine));
  EXPECT_FALSE(IsContributor(Caller{.person_id = "eve"}, mine));

  EXPECT_TRUE(IsInOwnersChain(Caller{.person_id = "mona"}, mine, org_));
  EXPECT_FALSE(IsInOwnersChain(Caller{.person_id = "mona"}, ours, org_));
  EXPECT_TRUE(IsInOwnersChain(Caller{.person_id = "vic"}, ours, org_));
  EXPECT_FALSE(IsInOwnersChain(Caller{.person_id = "owen"}, mine, org_));
}

}  // namespace
}  // namespace sightline::org
