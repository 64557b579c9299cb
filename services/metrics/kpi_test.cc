#include "services/metrics/kpi.h"

#include <cmath>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::metrics {
namespace {

using testing::InvalidNaming;
using testing::IsOk;

int64_t At(int y, int m, int d, int h = 0, int min = 0) {
  return absl::ToUnixMicros(absl::FromCivil(
      absl::CivilSecond(y, m, d, h, min, 0), absl::UTCTimeZone()));
}

Kpi Higher() {
  Kpi k;
  k.id = "csat";
  k.display_name = "CSAT";
  k.owner_person_id = "mona";
  k.direction = Direction::kHigherIsBetter;
  return k;
}

TEST(Accum, EachAggregation) {
  Accum a;
  EXPECT_EQ(a.Value(Aggregation::kSum), std::nullopt);
  EXPECT_EQ(a.Value(Aggregation::kCount), 0);
  a.Add(30, 4);
  a.Add(10, 8);
  a.Add(20, 3);
  EXPECT_EQ(*a.Value(Aggregation::kSum), 15);
  EXPECT_EQ(*a.Value(Aggregation::kMean), 5);
  EXPECT_EQ(*a.Value(Aggregation::kLast), 4);  // the latest time, not order
  EXPECT_EQ(*a.Value(Aggregation::kMin), 3);
  EXPECT_EQ(*a.Value(Aggregation::kMax), 8);
  EXPECT_EQ(*a.Value(Aggregation::kCount), 3);
}

TEST(Accum, MergeEqualsAddingEverything) {
  Accum whole, left, right;
  for (int i = 0; i < 10; ++i) {
    double v = (i * 7) % 5 - 1.5;
    whole.Add(i, v);
    (i < 4 ? left : right).Add(i, v);
  }
  Accum merged = right;  // merge order must not matter for LAST
  merged.Merge(left);
  for (auto a : {Aggregation::kSum, Aggregation::kMean, Aggregation::kLast,
                 Aggregation::kMin, Aggregation::kMax, Aggregation::kCount}) {
    EXPECT_DOUBLE_EQ(*merged.Value(a), *whole.Value(a));
  }
  Accum empty;
  merged.Merge(empty);
  EXPECT_EQ(*merged.Value(Aggregation::kCount), 10);
}

TEST(PeriodOf, DayWeekMonthQuarterInUtc) {
  int64_t t = At(2026, 12, 3, 10, 28);  // a Thursday
  EXPECT_EQ(PeriodOf(Period::kDay, t),
            std::make_pair(At(2026, 12, 3), At(2026, 12, 4)));
  EXPECT_EQ(PeriodOf(Period::kWeek, t),
            std::make_pair(At(2026, 11, 30), At(2026, 12, 7)));  // Monday
  EXPECT_EQ(PeriodOf(Period::kMonth, t),
            std::make_pair(At(2026, 12, 1), At(2027, 1, 1)));
  EXPECT_EQ(PeriodOf(Period::kQuarter, t),
            std::make_pair(At(2026, 10, 1), At(2027, 1, 1)));
  EXPECT_EQ(PeriodOf(Period::kQuarter, At(2026, 2, 28)),
            std::make_pair(At(2026, 1, 1), At(2026, 4, 1)));
  // A Monday at midnight starts its own week; Sunday night is the last of it.
  EXPECT_EQ(PeriodOf(Period::kWeek, At(2026, 11, 30)).first, At(2026, 11, 30));
  EXPECT_EQ(PeriodOf(Period::kWeek, At(2026, 12, 6, 23, 59)).first,
            At(2026, 11, 30));
  // Before 1970 too (negative times round down).
  EXPECT_EQ(PeriodOf(Period::kDay, At(1969, 12, 31, 12)).first,
            At(1969, 12, 31));
  EXPECT_EQ(PeriodOf(Period::kWeek, At(1970, 1, 1)).first, At(1969, 12, 29));
}

TEST(StateOf, HigherIsBetter) {
  Kpi k = Higher();
  Target t{0, 100, 0.90, 0.85, 0.75};
  EXPECT_EQ(StateOf(k, &t, 0.92, false), KpiState::kGreen);
  EXPECT_EQ(StateOf(k, &t, 0.85, false), KpiState::kGreen);  // on the line
  EXPECT_EQ(StateOf(k, &t, 0.80, false), KpiState::kAmber);
  EXPECT_EQ(StateOf(k, &t, 0.75, false), KpiState::kAmber);
  EXPECT_EQ(StateOf(k, &t, 0.74, false), KpiState::kRed);
  EXPECT_EQ(StateOf(k, nullptr, 0.74, false), KpiState::kNoTarget);
  EXPECT_EQ(StateOf(k, &t, std::nullopt, false), KpiState::kNoData);
  EXPECT_EQ(StateOf(k, &t, 0.99, true), KpiState::kStale);
  // Without thresholds: GREEN at the target, RED below it.
  Target bare{0, 100, 10, std::nullopt, std::nullopt};
  EXPECT_EQ(StateOf(k, &bare, 10, false), KpiState::kGreen);
  EXPECT_EQ(StateOf(k, &bare, 9.99, false), KpiState::kRed);
}

TEST(StateOf, LowerIsBetter) {
  Kpi k = Higher();
  k.direction = Direction::kLowerIsBetter;
  Target t{0, 100, 24, 30, 48};  // hours of lead time
  EXPECT_EQ(StateOf(k, &t, 20, false), KpiState::kGreen);
  EXPECT_EQ(StateOf(k, &t, 30, false), KpiState::kGreen);
  EXPECT_EQ(StateOf(k, &t, 40, false), KpiState::kAmber);
  EXPECT_EQ(StateOf(k, &t, 48, false), KpiState::kAmber);
  EXPECT_EQ(StateOf(k, &t, 48.5, false), KpiState::kRed);
}

TEST(StateOf, InRange) {
  Kpi k = Higher();
  k.direction = Direction::kInRange;
  k.band_low = 0.70;
  k.band_high = 0.85;  // utilisation
  Target t{0, 100, 0, 0.02, 0.10};
  EXPECT_EQ(StateOf(k, &t, 0.80, false), KpiState::kGreen);
  EXPECT_EQ(StateOf(k, &t, 0.86, false), KpiState::kGreen);  // within 0.02
  EXPECT_EQ(StateOf(k, &t, 0.90, false), KpiState::kAmber);
  EXPECT_EQ(StateOf(k, &t, 0.55, false), KpiState::kRed);
  // No target needed: outside the band at all is RED.
  EXPECT_EQ(StateOf(k, nullptr, 0.80, false), KpiState::kGreen);
  EXPECT_EQ(StateOf(k, nullptr, 0.851, false), KpiState::kRed);
}

TEST(TrendOf, FollowsTheDirection) {
  Kpi k = Higher();
  EXPECT_EQ(TrendOf(k, 5, 4), Trend::kImproving);
  EXPECT_EQ(TrendOf(k, 4, 5), Trend::kWorsening);
  EXPECT_EQ(TrendOf(k, 4, 4), Trend::kFlat);
  EXPECT_EQ(TrendOf(k, 4, std::nullopt), std::nullopt);
  k.direction = Direction::kLowerIsBetter;
  EXPECT_EQ(TrendOf(k, 4, 5), Trend::kImproving);
  k.direction = Direction::kInRange;
  k.band_low = 10;
  k.band_high = 20;
  EXPECT_EQ(TrendOf(k, 22, 25), Trend::kImproving);  // closer to the band
  EXPECT_EQ(TrendOf(k, 12, 18), Trend::kFlat);       // both inside
  EXPECT_EQ(TrendOf(k, 5, 12), Trend::kWorsening);
}

TEST(IsStale, TwiceTheCadence) {
  Kpi k = Higher();
  k.cadence = kMicrosPerDay;
  EXPECT_FALSE(IsStale(k, 0, 10 * kMicrosPerDay));  // never a point: NO_DATA
  EXPECT_FALSE(IsStale(k, kMicrosPerDay, 3 * kMicrosPerDay));
  EXPECT_TRUE(IsStale(k, kMicrosPerDay, 3 * kMicrosPerDay + 1));
}

TEST(TargetAt, LatestStartingCoveringTarget) {
  Kpi k = Higher();
  k.targets = {
      {0, 100, 1, {}, {}}, {50, 200, 2, {}, {}}, {300, 400, 3, {}, {}}};
  EXPECT_EQ(TargetAt(k, 10)->value, 1);
  EXPECT_EQ(TargetAt(k, 60)->value, 2);
  EXPECT_EQ(TargetAt(k, 250), nullptr);
  EXPECT_EQ(TargetAt(k, 400), nullptr);  // end is exclusive
}

TEST(ValidateKpi, NamesEachField) {
  Kpi k = Higher();
  EXPECT_THAT(ValidateKpi(k), IsOk());
  Kpi bad = k;
  bad.display_name = "";
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.display_name"));
  bad = k;
  bad.owner_team_id = "eng";
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.owner_person"));
  bad = k;
  bad.format = Format::kCurrency;
  bad.currency_code = "eur";
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.currency_code"));
  bad.currency_code = "EUR";
  EXPECT_THAT(ValidateKpi(bad), IsOk());
  bad = k;
  bad.direction = Direction::kInRange;
  bad.band_low = 2;
  bad.band_high = 1;
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.band"));
  bad = k;
  bad.cadence = 1000;
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.cadence"));
  bad = k;
  bad.dimension_keys = {"Region"};
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.dimension_keys[0]"));
  bad = k;
  bad.targets = {{10, 5, 1, {}, {}}};
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.targets[0].end_time"));
  bad.targets = {{0, 5, 0.9, 0.95, 0.5}};  // amber above the aim
  EXPECT_THAT(ValidateKpi(bad),
              InvalidNaming("kpi.targets[0].amber_threshold"));
  bad.targets = {{0, 5, std::nan(""), {}, {}}};
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.targets[0].value"));
  bad = k;
  bad.formula = "a / b";
  bad.prom_query = "up";
  EXPECT_THAT(ValidateKpi(bad), InvalidNaming("kpi.formula"));
}

TEST(ValidateDimension, DeclaredKeysOnly) {
  Kpi k = Higher();
  k.dimension_keys = {"region"};
  EXPECT_THAT(ValidateDimension(k, "", "d"), IsOk());
  EXPECT_THAT(ValidateDimension(k, "region=emea", "d"), IsOk());
  EXPECT_THAT(ValidateDimension(k, "country=fr", "d"), InvalidNaming("d"));
  EXPECT_THAT(ValidateDimension(k, "region", "d"), InvalidNaming("d"));
  EXPECT_THAT(ValidateDimension(k, "region=", "d"), InvalidNaming("d"));
  EXPECT_THAT(ValidateDimension(k, "region=a=b", "d"), InvalidNaming("d"));
}

TEST(IsKpiId, Rules) {
  EXPECT_TRUE(IsKpiId("conversion-rate"));
  EXPECT_TRUE(IsKpiId("k1"));
  EXPECT_FALSE(IsKpiId("1k"));
  EXPECT_FALSE(IsKpiId("Conversion"));
  EXPECT_FALSE(IsKpiId("a_b"));
  EXPECT_FALSE(IsKpiId("ends-"));
  EXPECT_FALSE(IsKpiId(""));
  EXPECT_FALSE(IsKpiId(std::string(64, 'a')));
}

}  // namespace
}  // namespace sightline::metrics
