#include "lib/org/org.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/org/fake_org.h"

namespace sightline::org {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// See AddSmallCompany for the org.
class OrgWalkTest : public ::testing::Test {
 protected:
  OrgWalkTest() { AddSmallCompany(&org_); }

  FakeOrgView org_;
};

// ------------------------------------------------------------- org walks

TEST_F(OrgWalkTest, ManagementChainNearestFirst) {
  EXPECT_THAT(ManagementChain(org_, "sam"),
              ElementsAre("stella", "mona", "vp_eng", "ceo"));
  EXPECT_THAT(ManagementChain(org_, "leo"), ElementsAre("vic", "ceo"));
  EXPECT_THAT(ManagementChain(org_, "ceo"), IsEmpty());
  EXPECT_THAT(ManagementChain(org_, "nobody"), IsEmpty());
  EXPECT_THAT(ManagementChain(org_, ""), IsEmpty());
}

TEST_F(OrgWalkTest, ManagementChainStopsAtAnUnknownManager) {
  org_.AddPerson("temp", "eng", "not-yet-replicated");
  EXPECT_THAT(ManagementChain(org_, "temp"), ElementsAre("not-yet-replicated"));
}

TEST_F(OrgWalkTest, ManagementChainIsLoopSafe) {
  org_.AddPerson("a", "", "b");
  org_.AddPerson("b", "", "c");
  org_.AddPerson("c", "", "a");
  EXPECT_THAT(ManagementChain(org_, "a"), ElementsAre("b", "c"));
  org_.AddPerson("narcissus", "", "narcissus");
  EXPECT_THAT(ManagementChain(org_, "narcissus"), IsEmpty());
  // A loop above the person: x -> a -> b -> c -> a.
  org_.AddPerson("x", "", "a");
  EXPECT_THAT(ManagementChain(org_, "x"), ElementsAre("a", "b", "c"));
}

TEST_F(OrgWalkTest, ManagementChainIsDepthGuarded) {
  for (int i = 0; i < 200; ++i) {
    org_.AddPerson(absl::StrCat("p", i), "", absl::StrCat("p", i + 1));
  }
  const std::vector<std::string> chain = ManagementChain(org_, "p0");
  EXPECT_THAT(chain, SizeIs(kMaxOrgDepth));
  EXPECT_EQ(chain.front(), "p1");
  EXPECT_EQ(chain.back(), absl::StrCat("p", kMaxOrgDepth));
  EXPECT_LT(org_.lookups(), 2 * kMaxOrgDepth);
}

TEST_F(OrgWalkTest, IsInChain) {
  EXPECT_TRUE(IsInChain(org_, "mona", "owen"));
  EXPECT_TRUE(IsInChain(org_, "ceo", "owen"));
  EXPECT_FALSE(IsInChain(org_, "owen", "owen"));
  EXPECT_FALSE(IsInChain(org_, "owen", "mona"));  // reports are no managers
  EXPECT_FALSE(IsInChain(org_, "vic", "owen"));
  EXPECT_FALSE(IsInChain(org_, "", "owen"));
}

TEST_F(OrgWalkTest, IsTeamOrSubTeam) {
  EXPECT_TRUE(IsTeamOrSubTeam(org_, "platform", "platform"));
  EXPECT_TRUE(IsTeamOrSubTeam(org_, "storage", "platform"));
  EXPECT_TRUE(IsTeamOrSubTeam(org_, "storage", "company"));
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "platform", "storage"));  // parent
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "emea", "eng"));
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "unknown", "eng"));
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "", ""));
}

TEST_F(OrgWalkTest, IsTeamOrSubTeamIsLoopSafe) {
  org_.AddTeam("t1", "t2", "");
  org_.AddTeam("t2", "t1", "");
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "t1", "eng"));
  EXPECT_TRUE(IsTeamOrSubTeam(org_, "t1", "t2"));
  org_.AddTeam("self", "self", "");
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "self", "eng"));
}

TEST_F(OrgWalkTest, IsTeamOrSubTeamIsDepthGuarded) {
  for (int i = 0; i < 200; ++i) {
    org_.AddTeam(absl::StrCat("t", i), absl::StrCat("t", i + 1), "");
  }
  EXPECT_TRUE(IsTeamOrSubTeam(org_, "t0", "t10"));
  EXPECT_FALSE(IsTeamOrSubTeam(org_, "t0", "t150"));
}

}  // namespace
}  // namespace sightline::org
