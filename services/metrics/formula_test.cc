#include "services/metrics/formula.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::metrics {
namespace {

using testing::InvalidNaming;

TEST(Formula, ConversionAndRoi) {
  auto conv = Formula::Parse("orders / visits", "kpi.formula");
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_THAT((*conv)->inputs(), ::testing::ElementsAre("orders", "visits"));
  EXPECT_DOUBLE_EQ(*(*conv)->Evaluate({{"orders", 30}, {"visits", 1200}}),
                   0.025);
  auto roi = Formula::Parse("(revenue - cost) / cost", "kpi.formula");
  ASSERT_TRUE(roi.ok());
  EXPECT_THAT((*roi)->inputs(), ::testing::ElementsAre("cost", "revenue"));
  EXPECT_DOUBLE_EQ(*(*roi)->Evaluate({{"revenue", 150}, {"cost", 100}}), 0.5);
  // The same parser evaluates again with new values.
  EXPECT_DOUBLE_EQ(*(*roi)->Evaluate({{"revenue", 50}, {"cost", 100}}), -0.5);
}

TEST(Formula, HyphenatedIdsAreWrittenWithUnderscores) {
  auto f = Formula::Parse("new_orders * 2", "kpi.formula");
  ASSERT_TRUE(f.ok());
  EXPECT_THAT((*f)->inputs(), ::testing::ElementsAre("new-orders"));
  EXPECT_DOUBLE_EQ(*(*f)->Evaluate({{"new-orders", 4}}), 8);
  EXPECT_EQ(FormulaName("new-orders"), "new_orders");
}

TEST(Formula, DivisionByZeroIsAbsentNotInfinite) {
  auto f = Formula::Parse("orders / visits", "kpi.formula");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Evaluate({{"orders", 3}, {"visits", 0}}), std::nullopt);
  EXPECT_EQ((*f)->Evaluate({{"orders", 0}, {"visits", 0}}), std::nullopt);
  EXPECT_EQ((*f)->Evaluate({{"orders", 3}}), std::nullopt);  // missing input
}

TEST(Formula, RefusesWhatDoesNotParse) {
  EXPECT_THAT(Formula::Parse("orders / ", "kpi.formula").status(),
              InvalidNaming("kpi.formula"));
  EXPECT_THAT(Formula::Parse("(orders", "kpi.formula").status(),
              InvalidNaming("kpi.formula"));
  EXPECT_THAT(Formula::Parse("42", "kpi.formula").status(),
              InvalidNaming("kpi.formula"));  // names no KPI
  EXPECT_THAT(Formula::Parse("Orders / 2", "kpi.formula").status(),
              InvalidNaming("kpi.formula"));  // not an id
  EXPECT_THAT(Formula::Parse("nosuchfn(orders)", "kpi.formula").status(),
              InvalidNaming("kpi.formula"));
}

}  // namespace
}  // namespace sightline::metrics
