#include "lib/csv/csv.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::csv {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CsvTest, QuotesEscapesAndLineEndings) {
  auto r = ParseCsv(
      "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\n\"multi\nline\",2,3\n\n4,5,6");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_THAT((*r)[1].fields, ElementsAre("x, y", "say \"hi\"", ""));
  EXPECT_THAT((*r)[2].fields, ElementsAre("multi\nline", "2", "3"));
  EXPECT_EQ((*r)[2].line, 3);
  EXPECT_EQ((*r)[3].line, 6);  // the quoted newline and the blank line count
}

TEST(CsvTest, BrokenQuotesNameTheLine) {
  EXPECT_THAT(
      ParseCsv("a\n\"open").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParseCsv("a\n\"x\"y").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("after a closing quote")));
}

TEST(CsvTest, SkipsAByteOrderMark) {
  auto r = ParseCsv("\xEF\xBB\xBFkpi,value\n\"a\",1\n");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_THAT((*r)[0].fields, ElementsAre("kpi", "value"));
  EXPECT_THAT((*r)[1].fields, ElementsAre("a", "1"));
  EXPECT_EQ((*r)[1].line, 2);
}

}  // namespace
}  // namespace sightline::csv
