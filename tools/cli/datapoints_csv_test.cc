#include "tools/cli/datapoints_csv.h"

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::cli {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss),
                         absl::UTCTimeZone());
}

TEST(DataPointsCsvTest, ReadsEveryColumnInAnyOrder) {
  auto f = ReadDataPoints(
      "\xEF\xBB\xBF"
      "Value,KPI,time,source,dimension\r\n"
      "12.5,kpis/orders,2026-11-03T10:00:00Z,crm-export,region=emea\r\n"
      "\"1e3\",visits,2026-11-04,\"web, logs\",\r\n"
      "\n"
      "-3, orders ,2026-11-03T12:30:00+02:00,,\r\n");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->errors, IsEmpty());
  ASSERT_EQ(f->points.size(), 3u);
  const DataPointRow& a = f->points[0];
  EXPECT_EQ(a.line, 2);
  EXPECT_EQ(a.kpi, "kpis/orders");
  EXPECT_EQ(a.time, Utc(2026, 11, 3, 10));
  EXPECT_EQ(a.value, 12.5);
  EXPECT_EQ(a.dimension, "region=emea");
  EXPECT_EQ(a.source, "crm-export");
  const DataPointRow& b = f->points[1];
  EXPECT_EQ(b.line, 3);
  EXPECT_EQ(b.kpi, "kpis/visits");
  EXPECT_EQ(b.time, Utc(2026, 11, 4));  // a date is midnight UTC
  EXPECT_EQ(b.value, 1000);
  EXPECT_EQ(b.dimension, "");
  EXPECT_EQ(b.source, "web, logs");
  const DataPointRow& c = f->points[2];
  EXPECT_EQ(c.line, 5);  // the blank line counts
  EXPECT_EQ(c.kpi, "kpis/orders");
  EXPECT_EQ(c.time, Utc(2026, 11, 3, 10, 30));
  EXPECT_EQ(c.value, -3);
}

TEST(DataPointsCsvTest, OnlyTheRequiredColumns) {
  auto f = ReadDataPoints("kpi,time,value\nk1,2026-01-31T23:59:59.250Z,0\n");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->points.size(), 1u);
  EXPECT_EQ(f->points[0].time,
            Utc(2026, 1, 31, 23, 59, 59) + absl::Milliseconds(250));
  EXPECT_EQ(f->points[0].value, 0);
}

TEST(DataPointsCsvTest, EveryBadRowIsListedWithItsLineAndColumn) {
  auto f = ReadDataPoints(
      "kpi,time,value,dimension\n"
      "orders,2026-11-03,1,\n"                   // 2: good
      "Orders,2026-11-03,1,\n"                   // 3: upper case id
      "kpis/,2026-11-03,1,\n"                    // 4: empty id
      "goals/x,2026-11-03,1,\n"                  // 5: another resource
      "orders,2026-02-30,1,\n"                   // 6: no such day
      "orders,2026-11-03 10:00:00,1,\n"          // 7: no T, no offset
      "orders,2026-11-03T10:00:00,1,\n"          // 8: no offset
      "orders,yesterday,1,\n"                    // 9
      "orders,2026-11-03,nan,\n"                 // 10
      "orders,2026-11-03,inf,\n"                 // 11
      "orders,2026-11-03,1e999,\n"               // 12: overflows
      "orders,2026-11-03,12 apples,\n"           // 13
      "orders,2026-11-03,,\n"                    // 14: empty value
      "orders,2026-11-03,1,region\n"             // 15: not key=value
      "orders,2026-11-03,1,region=a=b\n"         // 16
      "orders,2026-11-03\n"                      // 17: short row
      "orders,2026-11-03,1,,extra\n"             // 18: long row
      "BAD,never,x,=v\n"                         // 19: four at once
      "visits,2026-11-03T10:00:00.5-05:00,2,\n"  // 20: good
  );
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->points.size(), 2u);
  EXPECT_EQ(f->points[0].line, 2);
  EXPECT_EQ(f->points[1].line, 20);
  EXPECT_EQ(f->points[1].time, Utc(2026, 11, 3, 15) + absl::Milliseconds(500));

  std::vector<std::pair<int, std::string>> got;
  for (const auto& e : f->errors) got.emplace_back(e.line, e.column);
  std::vector<std::pair<int, std::string>> want = {
      {3, "kpi"},        {4, "kpi"},        {5, "kpi"},    {6, "time"},
      {7, "time"},       {8, "time"},       {9, "time"},   {10, "value"},
      {11, "value"},     {12, "value"},     {13, "value"}, {14, "value"},
      {15, "dimension"}, {16, "dimension"}, {17, ""},      {18, ""},
      {19, "kpi"},       {19, "time"},      {19, "value"}, {19, "dimension"}};
  EXPECT_EQ(got, want);
  EXPECT_THAT(f->errors[0].message, HasSubstr("'Orders' is not kpis/{id}"));
  EXPECT_THAT(f->errors[3].message, HasSubstr("'2026-02-30' is not"));
  EXPECT_THAT(f->errors[7].message, HasSubstr("'nan' is not a finite number"));
  EXPECT_EQ(f->errors[14].message, "has 2 fields, the header has 4");
}

TEST(DataPointsCsvTest, HeaderProblemsAreAnError) {
  EXPECT_THAT(ReadDataPoints("").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ReadDataPoints("kpi,value\norders,1\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1 (header): missing column(s) time")));
  EXPECT_THAT(ReadDataPoints("kpi,time,value,note\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown column(s) 'note'")));
  EXPECT_THAT(ReadDataPoints("kpi,time,value,Value\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("repeated column(s) value")));
  EXPECT_THAT(ReadDataPoints("kpi,time,value\n\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no data points")));
  EXPECT_THAT(ReadDataPoints("kpi,time,value\n\"orders,1\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: a quoted field is never closed")));
}

TEST(DataPointsCsvTest, TimesAtTheEdges) {
  EXPECT_THAT(ParsePointTime("0000-12-31").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("outside years 1..9999")));
  EXPECT_TRUE(ParsePointTime("0001-01-01").ok());
  EXPECT_TRUE(ParsePointTime("9999-12-31T23:59:59Z").ok());
  EXPECT_THAT(ParsePointTime("9999-12-31T23:59:59-01:00").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePointTime(" 2026-11-03").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DataPointsCsvTest, TheRequestIdFollowsTheContent) {
  std::string a = ImportRequestId("kpi,time,value\norders,2026-11-03,1\n");
  EXPECT_EQ(a, ImportRequestId("kpi,time,value\norders,2026-11-03,1\n"));
  EXPECT_NE(a, ImportRequestId("kpi,time,value\norders,2026-11-03,2\n"));
  // SHA-256 of the empty string, a known answer.
  EXPECT_EQ(ImportRequestId(""),
            "import-datapoints-sha256-"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The server takes at most 128 printable characters.
  EXPECT_LE(a.size(), 128u);
}

}  // namespace
}  // namespace sightline::cli
