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
      "W3,w3@example.com,Wei,Three,Ghosted\n",
      cols);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->people.size(), 1u);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].line, 3);
  EXPECT_THAT(r->errors[0].message, HasSubstr("3 fields"));
  EXPECT_EQ(r->errors[1].line, 4);
  EXPECT_THAT(r->errors[1].message, HasSubstr("unknown status 'Ghosted'"));
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

TEST(RosterTest, CommonHrisSpellingsAreKnown) {
  for (const char* s : {"Full-Time", "part time", "Contractor", "Intern",
                        "Temporary", "Seasonal", "Probation", "Rehired"}) {
    EXPECT_EQ(ParseRosterStatus(s), 1) << s;
  }
  for (const char* s :
       {"Leave of Absence", "LOA", "Maternity Leave", "Parental-Leave",
        "Sabbatical", "Suspended", "Furloughed", "Long Term Disability"}) {
    EXPECT_EQ(ParseRosterStatus(s), 2) << s;
  }
  for (const char* s : {"Retired", "Resigned", "Deceased", "Laid Off",
                        "Separated", "Contract Ended", "Termed"}) {
    EXPECT_EQ(ParseRosterStatus(s), 3) << s;
  }
  EXPECT_EQ(ParseRosterStatus("Ghosted"), -1);
}

TEST(RosterTest, StatusMapAddsAndOverridesSpellings) {
  RosterFormat f;
  ASSERT_TRUE(f.AddStatusMap("Ghosted=terminated, Bench = Active,"
                             "Suspended=Terminated",
                             false)
                  .ok());
  EXPECT_EQ(ParseRosterStatus("ghosted", f), 3);
  EXPECT_EQ(ParseRosterStatus("BENCH", f), 1);
  EXPECT_EQ(ParseRosterStatus("Suspended", f), 3);  // the map wins
  EXPECT_EQ(ParseRosterStatus("Suspended"), 2);
  ASSERT_TRUE(f.AddStatusMap("# export value=status\n\nOn Garden=On Leave\n"
                             "Code=A, B=active\n",
                             true)
                  .ok());
  EXPECT_EQ(ParseRosterStatus("on garden", f), 2);
  EXPECT_EQ(ParseRosterStatus("Code=A, B", f), 1);  // one entry per line
  EXPECT_THAT(f.AddStatusMap("Gone", false),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'Gone' is not 'export value=status'")));
  EXPECT_THAT(f.AddStatusMap("Gone=vanished", false),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown status")));
  EXPECT_THAT(f.AddStatusMap("=active", false),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RosterTest, DateFormatsAreGivenNotGuessed) {
  EXPECT_EQ(NormalizeDate("03/07/2024", DateFormat::kMonthDayYear),
            "2024-03-07");
  EXPECT_EQ(NormalizeDate("3/7/2024", DateFormat::kMonthDayYear), "2024-03-07");
  EXPECT_EQ(NormalizeDate("03.07.2024", DateFormat::kDayMonthYearDots),
            "2024-07-03");
  EXPECT_EQ(NormalizeDate("31/01/2024", DateFormat::kDayMonthYearSlashes),
            "2024-01-31");
  EXPECT_EQ(NormalizeDate("31/01/2024", DateFormat::kMonthDayYear), "");
  EXPECT_EQ(NormalizeDate("2024-01-31", DateFormat::kMonthDayYear), "");
  EXPECT_EQ(NormalizeDate("02/30/2024", DateFormat::kMonthDayYear), "");
  EXPECT_EQ(NormalizeDate("1/2/24", DateFormat::kMonthDayYear), "");
  EXPECT_EQ(NormalizeDate("2024-02-29", DateFormat::kIso), "2024-02-29");
  EXPECT_TRUE(ParseDateFormat("DD.MM.YYYY").ok());
  EXPECT_THAT(
      ParseDateFormat("D/M/Y").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--date_format")));

  RosterFormat f;
  f.date_format = DateFormat::kMonthDayYear;
  auto r = ReadRoster(
      "employee_id,email,first_name,last_name,status,hire_date,"
      "termination_date\n"
      "E1,a@example.com,Ada,One,Active,01/31/2020,\n"
      "E2,b@example.com,Bo,Two,Retired,02/01/2020,12/31/2024\n"
      "E3,c@example.com,Cy,Three,Active,2020-01-31,\n"
      "E4,d@example.com,Di,Four,Active,01/02/2020,13/01/2024\n",
      {}, f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->people.size(), 2u);
  EXPECT_EQ(r->people[0].start_date, "2020-01-31");
  EXPECT_EQ(r->people[1].end_date, "2024-12-31");
  EXPECT_EQ(r->people[1].status, 3);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].line, 4);
  EXPECT_EQ(r->errors[0].column, "hire_date");
  EXPECT_THAT(r->errors[0].message, HasSubstr("'2020-01-31'"));
  EXPECT_EQ(r->errors[1].line, 5);
  EXPECT_EQ(r->errors[1].column, "termination_date");
}

}  // namespace
}  // namespace sightline::people
