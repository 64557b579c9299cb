#include "services/people/roster_csv.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::people {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RosterTest, BuildsTeamsAndPeople) {
  auto r = ReadRoster(
      "\xEF\xBB\xBF"
      "employee_id,email,first_name,last_name,title,department,manager_"
      "employee_id,"
      "status,hire_date,termination_date\n"
      "E1,Ada@Example.com,Ada,Lovelace,CEO,Exec,,Active,2019-01-01,\n"
      "E2,alan@example.com,Alan,Turing,CTO,Exec,E1,On Leave,2019-02-01,\n"
      "E3,grace@example.com,Grace,Hopper,Engineer,Platform,E2,Terminated,2019-"
      "03-01,2024-06-30\n",
      {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->errors.empty());
  ASSERT_EQ(r->teams.size(), 2u);
  EXPECT_EQ(r->teams[0].external_id, "Exec");
  EXPECT_EQ(r->teams[0].index, 0);
  ASSERT_EQ(r->people.size(), 3u);
  EXPECT_EQ(r->people[0].index, 2);
  EXPECT_EQ(r->people[0].display_name, "Ada Lovelace");
  EXPECT_EQ(r->people[1].status, 2);
  EXPECT_EQ(r->people[1].manager_external_id, "E1");
  EXPECT_EQ(r->people[2].status, 3);
  EXPECT_EQ(r->people[2].end_date, "2024-06-30");
  EXPECT_EQ(r->people[2].source_row, 4);
}

TEST(RosterTest, MappedColumnsAndBadRows) {
  RosterColumns cols;
  ASSERT_TRUE(cols.Override("employee_id=Worker ID").ok());
  ASSERT_TRUE(cols.Override("email = Work Email").ok());
  EXPECT_THAT(cols.Override("salary=Pay"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(cols.Override("nonsense"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto r = ReadRoster(
      "Worker ID,Work Email,first_name,last_name,status\n"
      "W1,w1@example.com,Wen,One,Active\n"
      "W2,w2@example.com,Wu\n"
      "W3,w3@example.com,Wei,Three,Retired\n",
      cols);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->people.size(), 1u);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].line, 3);
  EXPECT_THAT(r->errors[0].message, HasSubstr("3 fields"));
  EXPECT_EQ(r->errors[1].line, 4);
  EXPECT_THAT(r->errors[1].message, HasSubstr("unknown status 'Retired'"));
}

TEST(RosterTest, MissingColumnsAreNamed) {
  EXPECT_THAT(
      ReadRoster("id,mail\n1,a@b.co\n", {}).status(),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(
              "missing column(s) employee_id, email, first_name, last_name")));
  EXPECT_THAT(ReadRoster("", {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RosterTest, StatusSpellings) {
  EXPECT_EQ(ParseRosterStatus(""), 1);
  EXPECT_EQ(ParseRosterStatus("ACTIVE"), 1);
  EXPECT_EQ(ParseRosterStatus("On-Leave"), 2);
  EXPECT_EQ(ParseRosterStatus("inactive"), 3);
  EXPECT_EQ(ParseRosterStatus("fired?"), -1);
}

}  // namespace
}  // namespace sightline::people
