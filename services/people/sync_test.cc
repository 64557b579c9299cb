#include "services/people/sync.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/testing/status_matchers.h"

namespace sightline::people {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1700000000000000;

PersonRecord Rec(std::string ext, std::string manager = "",
                 std::string team = "") {
  PersonRecord r;
  r.external_id = ext;
  r.email = absl::StrCat(ext, "@example.com");
  r.display_name = absl::StrCat("Person ", ext);
  r.title = "Engineer";
  r.manager_external_id = manager;
  r.team_external_id = team;
  r.start_date = "2020-01-15";
  return r;
}

class SyncTest : public ::testing::Test {
 protected:
  absl::StatusOr<SyncPlan> Plan(SyncInput input, const Snapshot& snap,
                                SyncPolicy policy = {}) {
    int i = 0;
    for (auto& t : input.teams) t.index = i++;
    for (auto& p : input.people) p.index = i++;
    return PlanSync(
        snap, input, policy, [this] { return absl::StrCat("id", next_++); },
        kNow, "2026-11-23");
  }

  // Applies a plan to a snapshot the way the repository would.
  static Snapshot Apply(Snapshot snap, const SyncPlan& plan) {
    for (const auto& p : plan.update_people) {
      for (auto& old : snap.people) {
        if (old.id == p.id) old = p;
      }
    }
    for (const auto& t : plan.update_teams) {
      for (auto& old : snap.teams) {
        if (old.id == t.id) old = t;
      }
    }
    snap.people.insert(snap.people.end(), plan.create_people.begin(),
                       plan.create_people.end());
    snap.teams.insert(snap.teams.end(), plan.create_teams.begin(),
                      plan.create_teams.end());
    return snap;
  }

  // An org of `n`: E0 at the top, everyone else reporting to E0.
  Snapshot Org(int n) {
    SyncInput in;
    in.mode = SyncMode::kFull;
    for (int i = 0; i < n; ++i)
      in.people.push_back(Rec(absl::StrCat("E", i), i ? "E0" : ""));
    auto plan = Plan(in, {});
    EXPECT_TRUE(plan.ok()) << plan.status();
    return Apply({}, *plan);
  }

  int next_ = 0;
};

TEST_F(SyncTest, FirstImportCreatesEveryoneWithResolvedReferences) {
  SyncInput in;
  in.mode = SyncMode::kFull;
  in.teams.push_back({0, "T1", "Platform", "", "E1", 0});
  in.people.push_back(Rec("E1", "", "T1"));
  in.people.push_back(Rec("E2", "E1", "T1"));
  auto plan = Plan(in, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->people.created, 2);
  EXPECT_EQ(plan->teams.created, 1);
  ASSERT_EQ(plan->create_people.size(), 2u);
  const Person& e1 = plan->create_people[0];
  const Person& e2 = plan->create_people[1];
  EXPECT_EQ(e2.manager_id, e1.id);
  EXPECT_EQ(e2.team_id, plan->create_teams[0].id);
  EXPECT_EQ(plan->create_teams[0].lead_id, e1.id);
  EXPECT_EQ(e1.revision, 1);
  EXPECT_EQ(e1.status, PersonStatus::kActive);
}

TEST_F(SyncTest, ResendingTheSameRosterChangesNothing) {
  SyncInput in;
  in.mode = SyncMode::kFull;
  in.teams.push_back({0, "T1", "Platform", "", "", 0});
  in.people.push_back(Rec("E1", "", "T1"));
  in.people.push_back(Rec("E2", "E1", "T1"));
  auto first = Plan(in, {});
  ASSERT_TRUE(first.ok());
  Snapshot snap = Apply({}, *first);
  in.people[1].email = "E2@EXAMPLE.com";  // case does not matter
  auto again = Plan(in, snap);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(again->people.unchanged, 2);
  EXPECT_EQ(again->teams.unchanged, 1);
  EXPECT_TRUE(again->details.empty());
}

TEST_F(SyncTest, UpdatesReportFieldChangesAndBumpRevision) {
  Snapshot snap = Org(3);
  SyncInput in;
  auto r = Rec("E2", "E1");
  r.title = "Staff Engineer";
  in.people.push_back(r);
  auto plan = Plan(in, snap);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->update_people.size(), 1u);
  EXPECT_EQ(plan->update_people[0].revision, 2);
  EXPECT_EQ(plan->people.updated, 1);
  ASSERT_EQ(plan->details.size(), 1u);
  EXPECT_THAT(
      plan->details[0].fields,
      UnorderedElementsAre(Field(&FieldChange::field, "title"),
                           Field(&FieldChange::field, "manager_external_id")));
}

TEST_F(SyncTest, FullSyncTerminatesPeopleMissingFromTheRoster) {
  Snapshot snap = Org(10);
  SyncInput in;
  in.mode = SyncMode::kFull;
  in.effective_date = "2026-11-30";
  for (int i = 0; i < 9; ++i)
    in.people.push_back(Rec(absl::StrCat("E", i), i ? "E0" : ""));
  auto plan = Plan(in, snap);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->people.terminated, 1);
  ASSERT_EQ(plan->update_people.size(), 1u);
  EXPECT_EQ(plan->update_people[0].external_id, "E9");
  EXPECT_EQ(plan->update_people[0].status, PersonStatus::kTerminated);
  EXPECT_EQ(plan->update_people[0].end_date, "2026-11-30");
  // Terminated once, nothing more the next time.
  Snapshot after = Apply(snap, *plan);
  auto again = Plan(in, after);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(SyncTest, IncrementalSyncLeavesOthersAlone) {
  Snapshot snap = Org(10);
  SyncInput in;
  in.mode = SyncMode::kIncremental;
  in.people.push_back(Rec("E1", "E0"));
  auto plan = Plan(in, snap);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->empty());
  EXPECT_EQ(plan->people.terminated, 0);
}

TEST_F(SyncTest, MassTerminationIsRefusedUnlessAllowed) {
  Snapshot snap = Org(10);
  SyncInput in;
  in.mode = SyncMode::kFull;
  for (int i = 0; i < 7; ++i)
    in.people.push_back(Rec(absl::StrCat("E", i), i ? "E0" : ""));
  auto refused = Plan(in, snap);
  EXPECT_THAT(refused.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("terminate 3 of 10")));
  EXPECT_EQ(status::ErrorReason(refused.status()), "MASS_TERMINATION");
  in.allow_mass_termination = true;
  auto allowed = Plan(in, snap);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->people.terminated, 3);
  // Exactly the share is still allowed; the policy is configurable.
  in.allow_mass_termination = false;
  in.people.push_back(Rec("E7", "E0"));
  in.people.push_back(Rec("E8", "E0"));
  EXPECT_TRUE(Plan(in, snap, {.mass_termination_share = 0.1}).ok());
  EXPECT_FALSE(Plan(in, snap, {.mass_termination_share = 0.05}).ok());
}

TEST_F(SyncTest, ManagerCycleIsReportedOnEveryRecordInIt) {
  SyncInput in;
  in.people.push_back(Rec("A", "C"));
  in.people.push_back(Rec("B", "A"));
  in.people.push_back(Rec("C", "B"));
  in.people.push_back(Rec("D", "A"));
  auto plan = Plan(in, {});
  ASSERT_THAT(plan.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle")));
  auto v = status::FieldViolations(plan.status());
  EXPECT_THAT(v, UnorderedElementsAre(Field(&status::FieldViolation::field,
                                            "records[0].manager_external_id"),
                                      Field(&status::FieldViolation::field,
                                            "records[1].manager_external_id"),
                                      Field(&status::FieldViolation::field,
                                            "records[2].manager_external_id")));
}

TEST_F(SyncTest, CycleThroughTheExistingDirectoryIsFound) {
  Snapshot snap = Org(3);  // E1 and E2 report to E0
  SyncInput in;
  in.people.push_back(Rec("E0", "E2"));  // E0 -> E2 -> E0
  auto plan = Plan(in, snap);
  EXPECT_THAT(plan.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle")));
}

TEST_F(SyncTest, EveryBadFieldIsNamedWithItsRow) {
  Snapshot snap = Org(2);
  SyncInput in;
  auto self = Rec("S", "S");
  auto unknown_mgr = Rec("U", "NOPE");
  auto unknown_team = Rec("T", "", "NOTEAM");
  auto bad_email = Rec("M");
  bad_email.email = "not-an-email";
  bad_email.source_row = 7;
  auto bad_dates = Rec("D");
  bad_dates.start_date = "2021-02-30";
  auto reversed = Rec("R");
  reversed.end_date = "2019-01-01";
  auto role = Rec("O");
  role.roles = {"wizard"};
  auto no_name = Rec("N");
  no_name.display_name = "";
  auto no_id = Rec("");
  auto dup_email = Rec("X");
  dup_email.email = "E1@example.com";  // belongs to E1 in the directory
  in.people = {self,     unknown_mgr, unknown_team, bad_email, bad_dates,
               reversed, role,        no_name,      no_id,     dup_email};
  auto plan = Plan(in, snap);
  ASSERT_FALSE(plan.ok());
  auto v = status::FieldViolations(plan.status());
  auto has = [&](std::string field, std::string text) {
    for (const auto& f : v) {
      if (f.field == field && f.description.find(text) != std::string::npos)
        return true;
    }
    ADD_FAILURE() << "no violation " << field << " ~ " << text;
    return false;
  };
  has("records[0].manager_external_id", "own manager");
  has("records[1].manager_external_id", "NOPE does not exist");
  has("records[2].team_external_id", "NOTEAM does not exist");
  has("records[3].email", "row 7: 'not-an-email' is not a valid email");
  has("records[4].start_date", "not a date");
  has("records[5].end_date", "before start_date");
  has("records[6].roles", "unknown role 'wizard'");
  has("records[7].display_name", "1..200");
  has("records[8].external_id", "must not be empty");
  has("records[9].email", "already belongs to E1");
  EXPECT_EQ(v.size(), 10u);
}

TEST_F(SyncTest, DuplicatesInTheStreamAreRefused) {
  SyncInput in;
  auto a = Rec("A");
  auto b = Rec("B");
  b.email = "a@example.com";
  in.people = {a, Rec("A"), b};
  auto plan = Plan(in, {});
  auto v = status::FieldViolations(plan.status());
  EXPECT_THAT(v, Contains(Field(&status::FieldViolation::field,
                                "records[1].external_id")));
  EXPECT_THAT(
      v, Contains(Field(&status::FieldViolation::field, "records[2].email")));
}

TEST_F(SyncTest, TeamRulesAreChecked) {
  SyncInput in;
  in.teams.push_back({0, "T1", "One", "T2", "", 0});
  in.teams.push_back({0, "T2", "Two", "T1", "", 0});
  in.teams.push_back({0, "T3", "Three", "NOPE", "GHOST", 0});
  in.teams.push_back({0, "T3", "Again", "", "", 0});
  auto plan = Plan(in, {});
  auto v = status::FieldViolations(plan.status());
  EXPECT_THAT(v, Contains(Field(&status::FieldViolation::field,
                                "records[0].parent_external_id")));
  EXPECT_THAT(v, Contains(Field(&status::FieldViolation::field,
                                "records[1].parent_external_id")));
  EXPECT_THAT(v, Contains(Field(&status::FieldViolation::field,
                                "records[2].parent_external_id")));
  EXPECT_THAT(v, Contains(Field(&status::FieldViolation::field,
                                "records[2].lead_external_id")));
  EXPECT_THAT(v, Contains(Field(&status::FieldViolation::field,
                                "records[3].external_id")));
}

TEST_F(SyncTest, TwoPeopleCanSwapEmails) {
  Snapshot snap = Org(3);
  SyncInput in;
  auto a = Rec("E1", "E0");
  auto b = Rec("E2", "E0");
  std::swap(a.email, b.email);
  in.people = {a, b};
  auto plan = Plan(in, snap);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->email_changed_ids.size(), 2u);
  EXPECT_THAT(plan->old_emails,
              UnorderedElementsAre("e1@example.com", "e2@example.com"));
}

TEST_F(SyncTest, TerminationDateIsKeptWhenTheRosterOmitsIt) {
  Snapshot snap = Org(2);
  SyncInput in;
  auto r = Rec("E1", "E0");
  r.status = 3;  // TERMINATED, no end date: the effective date is used once
  in.people = {r};
  in.effective_date = "2026-11-01";
  auto plan = Plan(in, snap);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->update_people[0].end_date, "2026-11-01");
  EXPECT_EQ(plan->people.terminated, 1);
  Snapshot after = Apply(snap, *plan);
  in.effective_date = "2026-12-24";  // a later day, same roster
  auto again = Plan(in, after);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(SyncTest, DetailsAreCapped) {
  SyncInput in;
  for (int i = 0; i < 50; ++i) in.people.push_back(Rec(absl::StrCat("P", i)));
  auto plan = Plan(in, {}, {.max_details = 10});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->details.size(), 10u);
  EXPECT_EQ(plan->people.created, 50);
}

TEST(ValidationTest, Emails) {
  EXPECT_TRUE(IsValidEmail("ada.lovelace+hr@corp.example.com"));
  EXPECT_FALSE(IsValidEmail("no-at-sign"));
  EXPECT_FALSE(IsValidEmail("two@@example.com"));
  EXPECT_FALSE(IsValidEmail("dots..here@example.com"));
  EXPECT_FALSE(IsValidEmail("x@localhost"));
  EXPECT_FALSE(IsValidEmail("x@example.c0m"));
  EXPECT_FALSE(IsValidEmail("space in@example.com"));
  EXPECT_FALSE(IsValidEmail("x@-bad.example.com"));
}

TEST(ValidationTest, Dates) {
  EXPECT_TRUE(IsValidDate("2024-02-29"));
  EXPECT_FALSE(IsValidDate("2023-02-29"));
  EXPECT_FALSE(IsValidDate("2023-13-01"));
  EXPECT_FALSE(IsValidDate("23-01-01"));
  EXPECT_FALSE(IsValidDate("2023/01/01"));
  EXPECT_FALSE(IsValidDate("2023-1a-01"));
}

}  // namespace
}  // namespace sightline::people
