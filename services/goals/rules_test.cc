#include "services/goals/rules.h"

#include <cmath>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/testing/status_matchers.h"

namespace sightline::goals {

// Readable failures for the diff tests.
void PrintTo(const FieldChange& c, std::ostream* os) {
  *os << "{" << c.field << ": \"" << c.old_value << "\" -> \"" << c.new_value
      << "\"}";
}

namespace {

using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// The fields a status's BadRequest names, in order.
std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : status::FieldViolations(s)) out.push_back(v.field);
  return out;
}

// The description of the one violation of `field`.
std::string Rule(const absl::Status& s, absl::string_view field) {
  for (const auto& v : status::FieldViolations(s)) {
    if (v.field == field) return v.description;
  }
  return "<no violation of " + std::string(field) + ">";
}

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s.data(), s.size());
  return out;
}

auto Change(absl::string_view field, absl::string_view before,
            absl::string_view after) {
  return AllOf(Field(&FieldChange::field, std::string(field)),
               Field(&FieldChange::old_value, std::string(before)),
               Field(&FieldChange::new_value, std::string(after)));
}

// ------------------------------------------------------------------ enums

TEST(ApiNameTest, NamesAsInTheApi) {
  EXPECT_EQ(ApiName(GoalState::kPendingApproval), "PENDING_APPROVAL");
  EXPECT_EQ(ApiName(Level::kCompany), "COMPANY");
  EXPECT_EQ(ApiName(Health::kOffTrack), "OFF_TRACK");
  EXPECT_EQ(ApiName(Health::kUnspecified), "HEALTH_UNSPECIFIED");
  EXPECT_EQ(ApiName(ProgressSource::kBoth), "BOTH");
  EXPECT_EQ(ApiName(Kind::kExperiment), "EXPERIMENT");
  EXPECT_EQ(ApiName(Visibility::kTeam), "TEAM");
  EXPECT_EQ(ApiName(Outcome::kConcluded), "CONCLUDED");
  EXPECT_EQ(ApiName(StakeholderRole::kConsulted), "CONSULTED");
  EXPECT_EQ(ApiName(Measure::kMilestone), "MILESTONE");
  EXPECT_EQ(ApiName(Direction::kStayBelow), "STAY_BELOW");
  EXPECT_EQ(ApiName(CycleState::kClosed), "CLOSED");
  EXPECT_EQ(ApiName(static_cast<GoalState>(0)), "STATE_UNSPECIFIED");
  EXPECT_EQ(ApiName(static_cast<Direction>(9)), "DIRECTION_UNSPECIFIED");
  EXPECT_EQ(ApiName(static_cast<Measure>(-1)), "MEASURE_UNSPECIFIED");
}

// ------------------------------------------------------------------ cycles

Cycle ValidCycle() {
  Cycle c;
  c.id = "c1";
  c.display_name = "2024 Q1";
  c.start_date = "2024-01-01";
  c.end_date = "2024-03-31";
  return c;
}

TEST(ValidateCycleTest, AcceptsAValidCycle) {
  EXPECT_THAT(ValidateCycle(ValidCycle()), IsOk());
  Cycle one_day = ValidCycle();
  one_day.end_date = one_day.start_date;
  EXPECT_THAT(ValidateCycle(one_day), IsOk());
  Cycle long_name = ValidCycle();
  long_name.display_name = Repeat("é", 100);
  EXPECT_THAT(ValidateCycle(long_name), IsOk());
}

TEST(ValidateCycleTest, DisplayName) {
  for (const std::string& bad :
       {std::string(""), Repeat("x", 101), std::string("   "),
        std::string("Q1\n2024"), std::string("Q1\x01")}) {
    Cycle c = ValidCycle();
    c.display_name = bad;
    const absl::Status s = ValidateCycle(c);
    EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("cycle.display_name")));
    EXPECT_THAT(Fields(s), ElementsAre("cycle.display_name")) << bad;
  }
}

TEST(ValidateCycleTest, Dates) {
  Cycle c = ValidCycle();
  c.start_date = "2023-02-29";
  EXPECT_THAT(Fields(ValidateCycle(c)), ElementsAre("cycle.start_date"));
  c = ValidCycle();
  c.end_date = "";
  EXPECT_THAT(Fields(ValidateCycle(c)), ElementsAre("cycle.end_date"));
  c = ValidCycle();
  c.start_date = "2024-04-01";
  const absl::Status s = ValidateCycle(c);
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(Fields(s), ElementsAre("cycle.end_date"));
  EXPECT_THAT(Rule(s, "cycle.end_date"), HasSubstr("before cycle.start_date"));
}

TEST(ValidateCycleTest, ReportsEveryProblemAtOnce) {
  Cycle c;
  c.start_date = "2024-13-01";
  c.end_date = "tomorrow";
  EXPECT_THAT(
      Fields(ValidateCycle(c)),
      ElementsAre("cycle.display_name", "cycle.start_date", "cycle.end_date"));
}

// ------------------------------------------------------------------- goals

Goal ValidGoal() {
  Goal g;
  g.id = "g1";
  g.title = "Grow revenue";
  g.description = "Why:\n\tbecause.";
  g.owner.person_id = "alice";
  g.contributor_ids = {"bob", "carol"};
  g.stakeholders = {{"dave", StakeholderRole::kConsulted},
                    {"erin", StakeholderRole::kInformed}};
  g.level = Level::kIndividual;
  g.cycle_id = "c1";
  g.start_date = "2024-01-15";
  g.due_date = "2024-03-15";
  g.weight = 1;
  g.tags = {"revenue", "sales"};
  return g;
}

TEST(ValidateGoalTest, AcceptsValidGoals) {
  EXPECT_THAT(ValidateGoal(ValidGoal()), IsOk());

  Goal team = ValidGoal();
  team.owner = Owner{.person_id = "", .team_id = "sales"};
  team.level = Level::kTeam;
  team.contributor_ids = {"alice"};  // no owner person to clash with
  EXPECT_THAT(ValidateGoal(team), IsOk());

  Goal experiment = ValidGoal();
  experiment.kind = Kind::kExperiment;
  experiment.hypothesis = "Cold e-mail converts at 2%.";
  EXPECT_THAT(ValidateGoal(experiment), IsOk());

  Goal minimal;
  minimal.title = "x";
  minimal.owner.person_id = "p";
  minimal.cycle_id = "c";
  EXPECT_THAT(ValidateGoal(minimal), IsOk());
}

TEST(ValidateGoalTest, Title) {
  Goal g = ValidGoal();
  g.title = Repeat("é", 200);  // 400 bytes, 200 characters
  EXPECT_THAT(ValidateGoal(g), IsOk());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "must be 1..200 characters"},
      {Repeat("x", 201), "must be 1..200 characters"},
      {" \t ", "must not be blank"},
      {"a\tb", "must not contain control characters"},
      {"a\nb", "must not contain control characters"},
      {std::string("a\0b", 3), "must not contain control characters"},
      {"a\x7f", "must not contain control characters"},
      {"a\xc2\x85", "must not contain control characters"},  // U+0085
      {"a\xff", "must be valid UTF-8"},
      {"a\xc3", "must be valid UTF-8"},             // truncated
      {"\xc0\xaf", "must be valid UTF-8"},          // overlong '/'
      {"\xed\xa0\x80", "must be valid UTF-8"},      // surrogate
      {"\xf4\x90\x80\x80", "must be valid UTF-8"},  // above U+10FFFF
  };
  for (const auto& [title, rule] : cases) {
    g.title = title;
    const absl::Status s = ValidateGoal(g);
    EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("goal.title: " + rule)))
        << title;
    EXPECT_THAT(Fields(s), ElementsAre("goal.title"));
  }
}

TEST(ValidateGoalTest, Description) {
  Goal g = ValidGoal();
  g.description = Repeat("d", 10000);
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.description = "";
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.description = Repeat("d", 10001);
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.description"));
  g.description = std::string("nul\0", 4);
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.description"));
}

TEST(ValidateGoalTest, OwnerIsExactlyOnePersonOrTeam) {
  Goal g = ValidGoal();
  g.owner = {};
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.owner"));
  g.owner = Owner{.person_id = "alice", .team_id = "sales"};
  const absl::Status s = ValidateGoal(g);
  EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("goal.owner")));
  EXPECT_THAT(Fields(s), ElementsAre("goal.owner"));
}

TEST(ValidateGoalTest, CycleIsRequired) {
  Goal g = ValidGoal();
  g.cycle_id = "";
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.cycle"));
}

TEST(ValidateGoalTest, EnumsMustBeValid) {
  for (int bad : {0, 4, -1}) {
    Goal g = ValidGoal();
    g.level = static_cast<Level>(bad);
    g.kind = static_cast<Kind>(bad);
    g.visibility = static_cast<Visibility>(bad);
    g.progress_source = static_cast<ProgressSource>(bad);
    g.state = static_cast<GoalState>(bad == 4 ? 7 : bad);
    EXPECT_THAT(Fields(ValidateGoal(g)),
                ElementsAre("goal.level", "goal.kind", "goal.visibility",
                            "goal.progress_source", "goal.state"));
  }
}

TEST(ValidateGoalTest, Weight) {
  Goal g = ValidGoal();
  for (double ok : {0.001, 1.0, 1000.0}) {
    g.weight = ok;
    EXPECT_THAT(ValidateGoal(g), IsOk()) << ok;
  }
  for (double bad : {0.0, -1.0, 1000.5, kNaN, kInf, -kInf}) {
    g.weight = bad;
    const absl::Status s = ValidateGoal(g);
    EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("goal.weight")));
    EXPECT_THAT(Fields(s), ElementsAre("goal.weight")) << bad;
  }
}

TEST(ValidateGoalTest, ExperimentNeedsAHypothesis) {
  Goal g = ValidGoal();
  g.kind = Kind::kExperiment;
  g.hypothesis = "";
  absl::Status s = ValidateGoal(g);
  EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("goal.hypothesis")));
  EXPECT_THAT(Rule(s, "goal.hypothesis"), HasSubstr("EXPERIMENT"));
  g.hypothesis = "  ";
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.hypothesis"));
  g.hypothesis = Repeat("h", 2001);
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.hypothesis"));
  g.hypothesis = Repeat("h", 2000);
  EXPECT_THAT(ValidateGoal(g), IsOk());
  // Other kinds may carry one, within the same limit.
  g.kind = Kind::kCommitted;
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.hypothesis = Repeat("h", 2001);
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.hypothesis"));
}

TEST(ValidateGoalTest, Tags) {
  Goal g = ValidGoal();
  g.tags.clear();
  for (int i = 0; i < 20; ++i) g.tags.push_back(absl::StrCat("t", i));
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.tags.push_back("t20");
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.tags"));

  g.tags = {"ok", "", Repeat("x", 51), "tab\there", " ", Repeat("ü", 50)};
  EXPECT_THAT(Fields(ValidateGoal(g)),
              ElementsAre("goal.tags[1]", "goal.tags[2]", "goal.tags[3]",
                          "goal.tags[4]"));

  g.tags = {"a", "b", "a", "A"};
  const absl::Status s = ValidateGoal(g);
  EXPECT_THAT(Fields(s), ElementsAre("goal.tags[2]"));
  EXPECT_EQ(Rule(s, "goal.tags[2]"), "duplicates goal.tags[0]");
}

TEST(ValidateGoalTest, Contributors) {
  Goal g = ValidGoal();
  g.stakeholders.clear();
  g.contributor_ids.clear();
  for (int i = 0; i < 100; ++i)
    g.contributor_ids.push_back(absl::StrCat("p", i));
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.contributor_ids.push_back("p100");
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.contributors"));

  g.contributor_ids = {"bob", "alice", "bob", ""};
  const absl::Status s = ValidateGoal(g);
  EXPECT_THAT(Fields(s),
              ElementsAre("goal.contributors[1]", "goal.contributors[2]",
                          "goal.contributors[3]"));
  EXPECT_EQ(Rule(s, "goal.contributors[1]"), "must not be the owner");
  EXPECT_EQ(Rule(s, "goal.contributors[2]"), "duplicates goal.contributors[0]");
}

TEST(ValidateGoalTest, Stakeholders) {
  Goal g = ValidGoal();
  g.contributor_ids.clear();
  g.stakeholders.clear();
  for (int i = 0; i < 100; ++i) {
    g.stakeholders.push_back(
        {absl::StrCat("p", i), StakeholderRole::kInformed});
  }
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.stakeholders.push_back({"p100", StakeholderRole::kInformed});
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.stakeholders"));

  g.contributor_ids = {"bob"};
  g.stakeholders = {
      {"dave", StakeholderRole::kConsulted},
      {"bob", StakeholderRole::kInformed},         // contributor
      {"dave", StakeholderRole::kInformed},        // duplicate
      {"alice", StakeholderRole::kInformed},       // owner
      {"", StakeholderRole::kInformed},            // nobody
      {"frank", static_cast<StakeholderRole>(0)},  // bad role
  };
  const absl::Status s = ValidateGoal(g);
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(
      Fields(s),
      ElementsAre("goal.stakeholders[1].person", "goal.stakeholders[2].person",
                  "goal.stakeholders[3].person", "goal.stakeholders[4].person",
                  "goal.stakeholders[5].role"));
  EXPECT_EQ(Rule(s, "goal.stakeholders[1].person"),
            "is already goal.contributors[0]");
  EXPECT_EQ(Rule(s, "goal.stakeholders[2].person"),
            "duplicates goal.stakeholders[0]");
}

TEST(ValidateGoalTest, Dates) {
  Goal g = ValidGoal();
  g.start_date = "";
  g.due_date = "";
  EXPECT_THAT(ValidateGoal(g), IsOk());  // the cycle's
  g.start_date = "2024-02-01";
  EXPECT_THAT(ValidateGoal(g), IsOk());  // only a start
  g.due_date = "2024-02-01";
  EXPECT_THAT(ValidateGoal(g), IsOk());  // one day

  g.start_date = "2024-02-30";
  g.due_date = "2024-3-1";
  EXPECT_THAT(Fields(ValidateGoal(g)),
              ElementsAre("goal.start_date", "goal.due_date"));

  g.start_date = "2024-03-02";
  g.due_date = "2024-03-01";
  const absl::Status s = ValidateGoal(g);
  EXPECT_THAT(Fields(s), ElementsAre("goal.due_date"));
  EXPECT_EQ(Rule(s, "goal.due_date"), "must not be before goal.start_date");
}

TEST(ValidateGoalTest, ApprovalComment) {
  Goal g = ValidGoal();
  g.approval_comment = Repeat("c", 1000);
  EXPECT_THAT(ValidateGoal(g), IsOk());
  g.approval_comment = Repeat("c", 1001);
  EXPECT_THAT(Fields(ValidateGoal(g)), ElementsAre("goal.approval_comment"));
}

TEST(ValidateGoalTest, PrefixNamesTheFields) {
  Goal g = ValidGoal();
  g.title = "";
  g.tags = {"x", "x"};
  EXPECT_THAT(Fields(ValidateGoal(g, "template")),
              ElementsAre("template.title", "template.tags[1]"));
  EXPECT_THAT(Fields(ValidateGoal(g, "")), ElementsAre("title", "tags[1]"));
}

TEST(ValidateGoalTest, ReportsEveryProblemAtOnce) {
  Goal g;
  g.weight = 0;
  g.kind = Kind::kExperiment;
  g.due_date = "soon";
  const absl::Status s = ValidateGoal(g);
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(
      Fields(s),
      UnorderedElementsAre("goal.title", "goal.owner", "goal.cycle",
                           "goal.weight", "goal.hypothesis", "goal.due_date"));
}

// ------------------------------------------------------------- key results

KeyResult ValidKr() {
  KeyResult kr;
  kr.title = "Monthly revenue";
  kr.measure = Measure::kCurrency;
  kr.currency_code = "EUR";
  kr.direction = Direction::kIncrease;
  kr.baseline = 100000;
  kr.target = 150000;
  kr.stretch_target = 200000;
  kr.current = 110000;
  kr.unit = "per month";
  kr.weight = 2;
  kr.kpi = "kpis/monthly-revenue";
  return kr;
}

KeyResult Binary(Measure m) {
  KeyResult kr;
  kr.title = "Launch";
  kr.measure = m;
  kr.direction = Direction::kIncrease;
  kr.baseline = 0;
  kr.target = 1;
  return kr;
}

TEST(ValidateKeyResultTest, AcceptsValidKeyResults) {
  EXPECT_THAT(ValidateKeyResult(ValidKr()), IsOk());

  KeyResult decrease;
  decrease.title = "Churn";
  decrease.measure = Measure::kPercent;
  decrease.direction = Direction::kDecrease;
  decrease.baseline = 5;
  decrease.target = 3;
  decrease.stretch_target = 2;
  decrease.current = 7;  // worse than baseline is still a valid value
  EXPECT_THAT(ValidateKeyResult(decrease), IsOk());

  KeyResult above;
  above.title = "Uptime";
  above.direction = Direction::kStayAbove;
  above.baseline = 99.95;
  above.target = 99.9;  // no order between baseline and target
  EXPECT_THAT(ValidateKeyResult(above), IsOk());

  EXPECT_THAT(ValidateKeyResult(Binary(Measure::kBoolean)), IsOk());
  EXPECT_THAT(ValidateKeyResult(Binary(Measure::kMilestone)), IsOk());
}

TEST(ValidateKeyResultTest, Title) {
  KeyResult kr = ValidKr();
  for (const std::string& bad : {std::string(""), Repeat("t", 201),
                                 std::string(" "), std::string("a\nb")}) {
    kr.title = bad;
    const absl::Status s = ValidateKeyResult(kr);
    EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("key_result.title")));
    EXPECT_THAT(Fields(s), ElementsAre("key_result.title"));
  }
}

TEST(ValidateKeyResultTest, MeasureAndDirectionMustBeValid) {
  KeyResult kr = ValidKr();
  kr.measure = static_cast<Measure>(0);
  kr.currency_code = "";
  EXPECT_THAT(Fields(ValidateKeyResult(kr)), ElementsAre("key_result.measure"));
  kr = ValidKr();
  kr.direction = static_cast<Direction>(0);
  EXPECT_THAT(Fields(ValidateKeyResult(kr)),
              ElementsAre("key_result.direction"));
}

TEST(ValidateKeyResultTest, CurrencyCode) {
  KeyResult kr = ValidKr();
  for (const char* bad : {"", "eur", "EU", "EURO", "E1R", "€"}) {
    kr.currency_code = bad;
    const absl::Status s = ValidateKeyResult(kr);
    EXPECT_THAT(s, StatusIs(kInvalid));
    EXPECT_THAT(Fields(s), ElementsAre("key_result.currency_code")) << bad;
  }
  kr = ValidKr();
  kr.measure = Measure::kNumber;
  const absl::Status s = ValidateKeyResult(kr);
  EXPECT_THAT(Fields(s), ElementsAre("key_result.currency_code"));
  EXPECT_THAT(Rule(s, "key_result.currency_code"), HasSubstr("CURRENCY"));
}

TEST(ValidateKeyResultTest, NumbersMustBeFinite) {
  KeyResult kr = ValidKr();
  kr.baseline = kNaN;
  kr.target = kInf;
  kr.current = -kInf;
  kr.stretch_target = kNaN;
  EXPECT_THAT(Fields(ValidateKeyResult(kr)),
              ElementsAre("key_result.baseline", "key_result.target",
                          "key_result.current", "key_result.stretch_target"));
}

TEST(ValidateKeyResultTest, Weight) {
  KeyResult kr = ValidKr();
  kr.weight = 1000;
  EXPECT_THAT(ValidateKeyResult(kr), IsOk());
  for (double bad : {0.0, -2.0, 1001.0, kNaN, kInf}) {
    kr.weight = bad;
    EXPECT_THAT(Fields(ValidateKeyResult(kr)), ElementsAre("key_result.weight"))
        << bad;
  }
}

TEST(ValidateKeyResultTest, IncreaseNeedsTargetAboveBaseline) {
  KeyResult kr = ValidKr();
  kr.stretch_target.reset();
  kr.target = kr.baseline;
  absl::Status s = ValidateKeyResult(kr);
  EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("key_result.target")));
  EXPECT_EQ(Rule(s, "key_result.target"),
            "must be greater than baseline for INCREASE");
  kr.target = kr.baseline - 1;
  EXPECT_THAT(Fields(ValidateKeyResult(kr)), ElementsAre("key_result.target"));
}

TEST(ValidateKeyResultTest, DecreaseNeedsTargetBelowBaseline) {
  KeyResult kr = ValidKr();
  kr.stretch_target.reset();
  kr.direction = Direction::kDecrease;
  kr.target = kr.baseline;
  absl::Status s = ValidateKeyResult(kr);
  EXPECT_EQ(Rule(s, "key_result.target"),
            "must be less than baseline for DECREASE");
  kr.target = kr.baseline + 1;
  EXPECT_THAT(Fields(ValidateKeyResult(kr)), ElementsAre("key_result.target"));
  kr.target = kr.baseline - 1;
  EXPECT_THAT(ValidateKeyResult(kr), IsOk());
}

TEST(ValidateKeyResultTest, StretchTargetLiesBeyondTheTarget) {
  struct Case {
    Direction direction;
    double baseline, target, stretch;
    bool ok;
  };
  const Case cases[] = {
      {Direction::kIncrease, 0, 10, 12, true},
      {Direction::kIncrease, 0, 10, 10, false},
      {Direction::kIncrease, 0, 10, 8, false},
      {Direction::kDecrease, 10, 5, 3, true},
      {Direction::kDecrease, 10, 5, 5, false},
      {Direction::kDecrease, 10, 5, 7, false},
      {Direction::kStayAbove, 0, 10, 11, true},
      {Direction::kStayAbove, 0, 10, 10, false},
      {Direction::kStayBelow, 0, 10, 9, true},
      {Direction::kStayBelow, 0, 10, 10, false},
      {Direction::kStayBelow, 0, 10, 11, false},
  };
  for (const Case& c : cases) {
    KeyResult kr = ValidKr();
    kr.direction = c.direction;
    kr.baseline = c.baseline;
    kr.target = c.target;
    kr.stretch_target = c.stretch;
    const absl::Status s = ValidateKeyResult(kr);
    if (c.ok) {
      EXPECT_THAT(s, IsOk()) << ApiName(c.direction) << " " << c.stretch;
    } else {
      EXPECT_THAT(Fields(s), ElementsAre("key_result.stretch_target"))
          << ApiName(c.direction) << " " << c.stretch;
    }
  }
}

TEST(ValidateKeyResultTest, BooleanAndMilestoneShape) {
  for (Measure m : {Measure::kBoolean, Measure::kMilestone}) {
    KeyResult kr = Binary(m);
    kr.direction = Direction::kDecrease;
    absl::Status s = ValidateKeyResult(kr);
    EXPECT_THAT(s, StatusIs(kInvalid));
    EXPECT_THAT(Fields(s), ElementsAre("key_result.direction"));
    EXPECT_THAT(Rule(s, "key_result.direction"), HasSubstr("INCREASE"));

    kr = Binary(m);
    kr.direction = static_cast<Direction>(0);  // use ApplyKeyResultDefaults
    EXPECT_THAT(Fields(ValidateKeyResult(kr)),
                ElementsAre("key_result.direction"));

    kr = Binary(m);
    kr.baseline = 1;
    kr.target = 5;
    kr.stretch_target = 2;
    EXPECT_THAT(Fields(ValidateKeyResult(kr)),
                ElementsAre("key_result.baseline", "key_result.target",
                            "key_result.stretch_target"));

    kr = Binary(m);
    kr.current = 1;  // done
    EXPECT_THAT(ValidateKeyResult(kr), IsOk());
  }
}

TEST(ApplyKeyResultDefaultsTest, UnsetWeightIsOneAndAnExplicitOneStays) {
  KeyResult kr;
  kr.weight = 0;
  ApplyKeyResultDefaults(&kr);
  EXPECT_EQ(kr.weight, 1);
  kr.weight = 2.5;
  ApplyKeyResultDefaults(&kr);
  EXPECT_EQ(kr.weight, 2.5);
}

TEST(ApplyKeyResultDefaultsTest, BinaryMeasuresGetIncreaseAndTargetOne) {
  KeyResult kr;
  kr.title = "Ship it";
  kr.measure = Measure::kMilestone;
  kr.direction = static_cast<Direction>(0);
  kr.baseline = 0;
  kr.target = 0;
  ApplyKeyResultDefaults(&kr);
  EXPECT_EQ(kr.direction, Direction::kIncrease);
  EXPECT_EQ(kr.target, 1);
  EXPECT_THAT(ValidateKeyResult(kr), IsOk());

  // Explicit values stay for validation to judge.
  KeyResult wrong = Binary(Measure::kBoolean);
  wrong.direction = Direction::kDecrease;
  wrong.target = 3;
  ApplyKeyResultDefaults(&wrong);
  EXPECT_EQ(wrong.direction, Direction::kDecrease);
  EXPECT_EQ(wrong.target, 3);

  // Numbers are left alone.
  KeyResult number;
  number.measure = Measure::kNumber;
  number.direction = static_cast<Direction>(0);
  ApplyKeyResultDefaults(&number);
  EXPECT_EQ(number.direction, static_cast<Direction>(0));
  EXPECT_EQ(number.target, 0);
}

TEST(ValidateKeyResultTest, Unit) {
  KeyResult kr = ValidKr();
  kr.unit = Repeat("u", 20);
  EXPECT_THAT(ValidateKeyResult(kr), IsOk());
  kr.unit = "";
  EXPECT_THAT(ValidateKeyResult(kr), IsOk());
  kr.unit = Repeat("u", 21);
  EXPECT_THAT(Fields(ValidateKeyResult(kr)), ElementsAre("key_result.unit"));
  kr.unit = "m\x01";
  EXPECT_THAT(Fields(ValidateKeyResult(kr)), ElementsAre("key_result.unit"));
}

TEST(ValidateKeyResultTest, Kpi) {
  KeyResult kr = ValidKr();
  for (const std::string& ok :
       {std::string(""), std::string("kpis/a"),
        absl::StrCat("kpis/", Repeat("a", 63)), std::string("kpis/nps-2024")}) {
    kr.kpi = ok;
    EXPECT_THAT(ValidateKeyResult(kr), IsOk()) << ok;
  }
  for (const std::string& bad :
       {std::string("kpis/"), std::string("kpi/a"), std::string("a"),
        std::string("kpis/NPS"), std::string("kpis/a_b"),
        std::string("kpis/a/b"), absl::StrCat("kpis/", Repeat("a", 64)),
        std::string(" kpis/a"), std::string("metrics/kpis/a")}) {
    kr.kpi = bad;
    const absl::Status s = ValidateKeyResult(kr);
    EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("key_result.kpi")));
    EXPECT_THAT(Fields(s), ElementsAre("key_result.kpi")) << bad;
  }
}

TEST(ValidateKeyResultTest, PrefixNamesTheFields) {
  KeyResult kr = ValidKr();
  kr.title = "";
  kr.weight = 0;
  EXPECT_THAT(Fields(ValidateKeyResult(kr, "key_results[3]")),
              ElementsAre("key_results[3].title", "key_results[3].weight"));
}

// --------------------------------------------------------------- alignment

class AlignmentTest : public ::testing::Test {
 protected:
  AlignmentTest() {
    year_ = Cycle{.id = "y2024",
                  .display_name = "2024",
                  .start_date = "2024-01-01",
                  .end_date = "2024-12-31"};
    q1_ = Cycle{.id = "q1",
                .display_name = "2024 Q1",
                .start_date = "2024-01-01",
                .end_date = "2024-03-31"};
    q2_ = Cycle{.id = "q2",
                .display_name = "2024 Q2",
                .start_date = "2024-04-01",
                .end_date = "2024-06-30"};
    company_.id = "company";
    company_.level = Level::kCompany;
    company_.cycle_id = "y2024";
    company_.state = GoalState::kActive;
    team_.id = "team";
    team_.level = Level::kTeam;
    team_.cycle_id = "q1";
    team_.parent_id = "company";
    team_.state = GoalState::kActive;
    mine_.id = "mine";
    mine_.level = Level::kIndividual;
    mine_.cycle_id = "q1";
    mine_.parent_id = "team";
  }

  Cycle year_, q1_, q2_;
  Goal company_, team_, mine_;
};

TEST_F(AlignmentTest, GoalsWithoutParents) {
  EXPECT_THAT(CheckAlignment(company_, year_, nullptr, nullptr, {}), IsOk());
  Goal loose = mine_;
  loose.parent_id = "";
  EXPECT_THAT(CheckAlignment(loose, q1_, nullptr, nullptr, {}), IsOk());
}

TEST_F(AlignmentTest, ChildInsideItsParent) {
  EXPECT_THAT(CheckAlignment(team_, q1_, &company_, &year_, {}), IsOk());
  EXPECT_THAT(CheckAlignment(mine_, q1_, &team_, &q1_, {"company"}), IsOk());
  Goal dated = mine_;
  dated.start_date = "2024-02-01";
  dated.due_date = "2024-03-31";
  EXPECT_THAT(CheckAlignment(dated, q1_, &team_, &q1_, {"company"}), IsOk());
}

TEST_F(AlignmentTest, CompanyGoalHasNoParent) {
  Goal c = company_;
  c.parent_id = "team";
  absl::Status s = CheckAlignment(c, year_, &team_, &q1_, {"company"});
  EXPECT_THAT(s, StatusIs(kInvalid, HasSubstr("goal.parent")));
  EXPECT_THAT(Fields(s), ElementsAre("goal.parent"));
  // Even when the parent it names does not exist.
  c.parent_id = "nowhere";
  EXPECT_THAT(CheckAlignment(c, year_, nullptr, nullptr, {}),
              StatusIs(kInvalid, HasSubstr("COMPANY")));
}

TEST_F(AlignmentTest, MissingParentIsNotFound) {
  EXPECT_THAT(CheckAlignment(mine_, q1_, nullptr, nullptr, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("goals/team")));
}

TEST_F(AlignmentTest, CallerBugsAreInternal) {
  EXPECT_THAT(CheckAlignment(mine_, q1_, &team_, nullptr, {}),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(CheckAlignment(mine_, q1_, &company_, &year_, {}),
              StatusIs(absl::StatusCode::kInternal));
  Cycle broken = q1_;
  broken.end_date = "";
  EXPECT_THAT(CheckAlignment(mine_, broken, &team_, &q1_, {}),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(AlignmentTest, ChildCycleOutsideParentsIsTheCyclesFault) {
  Goal later = mine_;
  later.cycle_id = "q2";
  const absl::Status s = CheckAlignment(later, q2_, &team_, &q1_, {"company"});
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(Fields(s), ElementsAre("goal.cycle"));
  EXPECT_THAT(Rule(s, "goal.cycle"),
              HasSubstr("(2024-04-01..2024-06-30) must lie within the "
                        "parent's (2024-01-01..2024-03-31)"));
  // A yearly child under a quarterly parent sticks out at the end.
  Goal yearly = mine_;
  yearly.cycle_id = "y2024";
  EXPECT_THAT(Fields(CheckAlignment(yearly, year_, &team_, &q1_, {})),
              ElementsAre("goal.cycle"));
}

TEST_F(AlignmentTest, ParentsOwnDatesNarrowItsWindow) {
  Goal narrow = team_;
  narrow.start_date = "2024-02-01";
  narrow.due_date = "2024-02-29";
  // The child inherits all of Q1 from its cycle: too wide.
  EXPECT_THAT(Fields(CheckAlignment(mine_, q1_, &narrow, &q1_, {})),
              ElementsAre("goal.cycle"));
  // With its own dates inside February it fits.
  Goal dated = mine_;
  dated.start_date = "2024-02-05";
  dated.due_date = "2024-02-20";
  EXPECT_THAT(CheckAlignment(dated, q1_, &narrow, &q1_, {}), IsOk());
  // Its own dates outside February name the dates.
  dated.start_date = "2024-01-20";
  dated.due_date = "2024-03-20";
  const absl::Status s = CheckAlignment(dated, q1_, &narrow, &q1_, {});
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(Fields(s), ElementsAre("goal.start_date", "goal.due_date"));
  EXPECT_THAT(Rule(s, "goal.start_date"),
              HasSubstr("parent's window (2024-02-01..2024-02-29)"));
  // A due date of its own with the cycle's start: the start is the cycle's
  // fault.
  dated.start_date = "";
  dated.due_date = "2024-02-20";
  EXPECT_THAT(Fields(CheckAlignment(dated, q1_, &narrow, &q1_, {})),
              ElementsAre("goal.cycle"));
  // A start of its own with the cycle's end: the end is the cycle's fault.
  dated.start_date = "2024-02-05";
  dated.due_date = "";
  EXPECT_THAT(Fields(CheckAlignment(dated, q1_, &narrow, &q1_, {})),
              ElementsAre("goal.cycle"));
}

TEST_F(AlignmentTest, OwnDatesLieWithinOwnCycle) {
  Goal g = mine_;
  g.parent_id = "";
  g.start_date = "2023-12-31";
  g.due_date = "2024-04-01";
  absl::Status s = CheckAlignment(g, q1_, nullptr, nullptr, {});
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(Fields(s), ElementsAre("goal.start_date", "goal.due_date"));
  EXPECT_THAT(Rule(s, "goal.start_date"),
              HasSubstr("within the cycle (2024-01-01..2024-03-31)"));
  // A start after the cycle's end, with the due date left to the cycle.
  g.start_date = "2024-05-01";
  g.due_date = "";
  EXPECT_THAT(Fields(CheckAlignment(g, q1_, nullptr, nullptr, {})),
              ElementsAre("goal.start_date"));
  g.start_date = "2024-01-01";
  g.due_date = "2024-03-31";
  EXPECT_THAT(CheckAlignment(g, q1_, nullptr, nullptr, {}), IsOk());
}

TEST_F(AlignmentTest, GoalCannotBeItsOwnAncestor) {
  // team -> mine would loop: team's parent becomes mine, mine's ancestors
  // are team and company.
  Goal looping = team_;
  looping.parent_id = "mine";
  absl::Status s =
      CheckAlignment(looping, q1_, &mine_, &q1_, {"team", "company"});
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(Fields(s), ElementsAre("goal.parent"));
  EXPECT_THAT(Rule(s, "goal.parent"), HasSubstr("own ancestor"));

  Goal self = mine_;
  self.parent_id = "mine";
  EXPECT_THAT(Fields(CheckAlignment(self, q1_, &mine_, &q1_, {})),
              ElementsAre("goal.parent"));

  // A goal being created has no id yet and cannot loop.
  Goal fresh = mine_;
  fresh.id = "";
  EXPECT_THAT(CheckAlignment(fresh, q1_, &team_, &q1_, {"company"}), IsOk());
}

TEST_F(AlignmentTest, CancelledOrArchivedParentTakesNoChildren) {
  for (GoalState closed : {GoalState::kCancelled, GoalState::kArchived}) {
    Goal parent = team_;
    parent.state = closed;
    EXPECT_THAT(CheckAlignment(mine_, q1_, &parent, &q1_, {}),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr(std::string(ApiName(closed)))));
    EXPECT_THAT(CheckParentAcceptsChildren(parent),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_EQ(status::ErrorReason(CheckParentAcceptsChildren(parent)),
              "PARENT_CLOSED");
  }
  for (GoalState open : {GoalState::kDraft, GoalState::kPendingApproval,
                         GoalState::kActive, GoalState::kCompleted}) {
    Goal parent = team_;
    parent.state = open;
    EXPECT_THAT(CheckAlignment(mine_, q1_, &parent, &q1_, {}), IsOk());
  }
}

TEST_F(AlignmentTest, BadArgumentsComeBeforeTheParentsState) {
  Goal parent = team_;
  parent.state = GoalState::kCancelled;
  Goal later = mine_;
  later.cycle_id = "q2";
  EXPECT_THAT(CheckAlignment(later, q2_, &parent, &q1_, {}),
              StatusIs(kInvalid));
}

TEST(GoalWindowTest, OwnDatesOrTheCycles) {
  Cycle c;
  c.start_date = "2024-01-01";
  c.end_date = "2024-03-31";
  Goal g;
  Window w = GoalWindow(g, c);
  EXPECT_EQ(w.start, "2024-01-01");
  EXPECT_EQ(w.end, "2024-03-31");
  g.due_date = "2024-02-15";
  w = GoalWindow(g, c);
  EXPECT_EQ(w.start, "2024-01-01");
  EXPECT_EQ(w.end, "2024-02-15");
}

// ------------------------------------------------------------- transitions

constexpr GoalState kAllStates[] = {
    GoalState::kDraft,     GoalState::kPendingApproval, GoalState::kActive,
    GoalState::kCompleted, GoalState::kCancelled,       GoalState::kArchived};

const std::set<std::pair<GoalState, GoalState>>& Allowed() {
  using S = GoalState;
  static const auto* allowed = new std::set<std::pair<S, S>>{
      {S::kDraft, S::kPendingApproval}, {S::kDraft, S::kActive},
      {S::kDraft, S::kCancelled},       {S::kPendingApproval, S::kActive},
      {S::kPendingApproval, S::kDraft}, {S::kActive, S::kCompleted},
      {S::kActive, S::kCancelled},      {S::kCompleted, S::kActive},
      {S::kCompleted, S::kArchived},    {S::kCancelled, S::kArchived},
  };
  return *allowed;
}

TEST(CheckTransitionTest, AllowedTransitions) {
  for (const auto& [from, to] : Allowed()) {
    EXPECT_THAT(CheckTransition(from, to), IsOk())
        << ApiName(from) << " -> " << ApiName(to);
  }
}

TEST(CheckTransitionTest, StayingIsANoOp) {
  for (GoalState s : kAllStates) EXPECT_THAT(CheckTransition(s, s), IsOk());
}

TEST(CheckTransitionTest, EveryOtherTransitionIsRefused) {
  int refused = 0;
  for (GoalState from : kAllStates) {
    for (GoalState to : kAllStates) {
      if (from == to || Allowed().contains({from, to})) continue;
      ++refused;
      const absl::Status s = CheckTransition(from, to);
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat("cannot go from ", ApiName(from),
                                           " to ", ApiName(to))));
      EXPECT_EQ(status::ErrorReason(s), "INVALID_STATE_TRANSITION");
    }
  }
  EXPECT_EQ(refused, 36 - 6 - 10);
}

TEST(CheckTransitionTest, NamedSamples) {
  EXPECT_THAT(CheckTransition(GoalState::kArchived, GoalState::kActive),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot go from ARCHIVED to ACTIVE"));
  EXPECT_THAT(CheckTransition(GoalState::kCancelled, GoalState::kActive),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(CheckTransition(GoalState::kDraft, GoalState::kCompleted),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      CheckTransition(GoalState::kPendingApproval, GoalState::kCancelled),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(CheckTransition(GoalState::kActive, GoalState::kArchived),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(CheckTransitionTest, UnknownTargetStateIsInvalid) {
  const absl::Status s =
      CheckTransition(GoalState::kDraft, static_cast<GoalState>(0));
  EXPECT_THAT(s, StatusIs(kInvalid));
  EXPECT_THAT(Fields(s), ElementsAre("goal.state"));
  EXPECT_THAT(CheckTransition(static_cast<GoalState>(0), GoalState::kActive),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// ----------------------------------------------------------- recalibration

TEST(NeedsReasonTest, GoalFields) {
  for (const char* f : {"start_date", "due_date", "parent", "weight"}) {
    EXPECT_TRUE(GoalFieldNeedsReason(f)) << f;
  }
  for (const char* f : {"title", "description", "owner", "tags", "state",
                        "cycle", "visibility", "goal.weight", ""}) {
    EXPECT_FALSE(GoalFieldNeedsReason(f)) << f;
  }
}

TEST(NeedsReasonTest, KeyResultFields) {
  for (const char* f : {"baseline", "target", "stretch_target", "weight"}) {
    EXPECT_TRUE(KeyResultFieldNeedsReason(f)) << f;
  }
  for (const char* f : {"title", "current", "unit", "kpi", "measure",
                        "direction", "start_date"}) {
    EXPECT_FALSE(KeyResultFieldNeedsReason(f)) << f;
  }
}

TEST(NeedsReasonTest, FromDiffs) {
  Goal a = ValidGoal();
  Goal b = a;
  b.title = "Other";
  EXPECT_FALSE(GoalChangesNeedReason(DiffGoals(a, b)));
  b.due_date = "2024-03-20";
  EXPECT_TRUE(GoalChangesNeedReason(DiffGoals(a, b)));
  // Naming weight in a mask without changing it needs no reason.
  EXPECT_FALSE(GoalChangesNeedReason(DiffGoals(a, a)));

  KeyResult k = ValidKr();
  KeyResult l = k;
  l.current = 120000;
  EXPECT_FALSE(KeyResultChangesNeedReason(DiffKeyResults(k, l)));
  l.stretch_target.reset();
  EXPECT_TRUE(KeyResultChangesNeedReason(DiffKeyResults(k, l)));
}

TEST(ValidateReasonTest, RequiredWhenNeeded) {
  for (const std::string& missing : {std::string(""), std::string(" \n ")}) {
    const absl::Status s = ValidateReason(missing, true);
    EXPECT_THAT(s, StatusIs(kInvalid,
                            "reason: required when changing target, baseline, "
                            "weight, parent or dates"));
    EXPECT_THAT(Fields(s), ElementsAre("reason"));
  }
  EXPECT_THAT(ValidateReason("Scope cut by the board.", true), IsOk());
  EXPECT_THAT(ValidateReason(Repeat("r", 1000), true), IsOk());
  EXPECT_THAT(ValidateReason("line one\nline two", true), IsOk());
  EXPECT_THAT(Fields(ValidateReason(Repeat("r", 1001), true)),
              ElementsAre("reason"));
  EXPECT_THAT(Fields(ValidateReason("bell\x07", true)), ElementsAre("reason"));
}

TEST(ValidateReasonTest, OptionalOtherwise) {
  EXPECT_THAT(ValidateReason("", false), IsOk());
  EXPECT_THAT(ValidateReason("typo", false), IsOk());
  EXPECT_THAT(ValidateReason(Repeat("r", 1000), false), IsOk());
  EXPECT_THAT(ValidateReason(Repeat("r", 1001), false),
              StatusIs(kInvalid, HasSubstr("reason: must be at most 1000")));
}

// ------------------------------------------------------------------ diffs

TEST(DiffGoalsTest, NoChangeNoDiff) {
  EXPECT_THAT(DiffGoals(ValidGoal(), ValidGoal()), IsEmpty());
}

TEST(DiffGoalsTest, EveryUserVisibleField) {
  const Goal a = ValidGoal();
  Goal b = a;
  b.title = "Grow revenue fast";
  b.description = "";
  b.owner = Owner{.person_id = "", .team_id = "sales"};
  b.contributor_ids = {"bob", "alice"};
  b.stakeholders = {{"dave", StakeholderRole::kInformed}};
  b.level = Level::kTeam;
  b.cycle_id = "c2";
  b.start_date = "";
  b.due_date = "2024-03-31";
  b.parent_id = "company";
  b.weight = 2.5;
  b.progress_source = ProgressSource::kBoth;
  b.kind = Kind::kExperiment;
  b.hypothesis = "It works";
  b.visibility = Visibility::kPrivate;
  b.state = GoalState::kActive;
  b.tags = {"revenue"};
  b.approval_comment = "Looks good";
  EXPECT_THAT(
      DiffGoals(a, b),
      ElementsAre(
          Change("title", "Grow revenue", "Grow revenue fast"),
          Change("description", "Why:\n\tbecause.", ""),
          Change("owner", "people/alice", "teams/sales"),
          Change("contributors", "people/bob,people/carol",
                 "people/bob,people/alice"),
          Change("stakeholders", "people/dave:CONSULTED,people/erin:INFORMED",
                 "people/dave:INFORMED"),
          Change("level", "INDIVIDUAL", "TEAM"),
          Change("cycle", "cycles/c1", "cycles/c2"),
          Change("start_date", "2024-01-15", ""),
          Change("due_date", "2024-03-15", "2024-03-31"),
          Change("parent", "", "goals/company"), Change("weight", "1", "2.5"),
          Change("progress_source", "KEY_RESULTS", "BOTH"),
          Change("kind", "COMMITTED", "EXPERIMENT"),
          Change("hypothesis", "", "It works"),
          Change("visibility", "PUBLIC", "PRIVATE"),
          Change("state", "DRAFT", "ACTIVE"),
          Change("tags", "revenue,sales", "revenue"),
          Change("approval_comment", "", "Looks good")));
}

TEST(DiffGoalsTest, ComputedFieldsAreNotDiffed) {
  const Goal a = ValidGoal();
  Goal b = a;
  b.kr_weight = 3;
  b.kr_weighted = 1;
  b.child_weight = 2;
  b.child_weighted = 1;
  b.progress = 0.4;
  b.score = 0.4;
  b.outcome = Outcome::kMissed;
  b.last_check_in_status = Health::kAtRisk;
  b.last_check_in_time = 123;
  b.revision = 7;
  b.update_time = 99;
  b.activate_time = 98;
  EXPECT_THAT(DiffGoals(a, b), IsEmpty());
}

TEST(DiffGoalsTest, ListsCompareAsLists) {
  Goal a = ValidGoal();
  Goal b = a;
  a.tags = {"a,b"};
  b.tags = {"a", "b"};
  EXPECT_THAT(DiffGoals(a, b), ElementsAre(Change("tags", "a,b", "a,b")));
  b.tags = {"b,a"};
  a.tags = {"a,b"};
  EXPECT_THAT(DiffGoals(a, b), ElementsAre(Change("tags", "a,b", "b,a")));
}

TEST(DiffGoalsTest, TinyWeightChangesStayVisible) {
  Goal a = ValidGoal();
  Goal b = a;
  b.weight = 1.0000001;
  EXPECT_THAT(DiffGoals(a, b),
              ElementsAre(Change("weight", "1", "1.0000001000000001")));
}

TEST(DiffKeyResultsTest, EveryUserVisibleField) {
  const KeyResult a = ValidKr();
  KeyResult b = a;
  b.title = "MRR";
  b.measure = Measure::kNumber;
  b.currency_code = "";
  b.direction = Direction::kStayAbove;
  b.baseline = 0;
  b.target = 1.5e6;
  b.stretch_target.reset();
  b.current = 0.25;
  b.unit = "";
  b.weight = 1;
  b.kpi = "";
  b.revision = 4;  // not user-visible
  EXPECT_THAT(
      DiffKeyResults(a, b),
      ElementsAre(Change("title", "Monthly revenue", "MRR"),
                  Change("measure", "CURRENCY", "NUMBER"),
                  Change("currency_code", "EUR", ""),
                  Change("direction", "INCREASE", "STAY_ABOVE"),
                  Change("baseline", "100000", "0"),
                  Change("target", "150000", "1.5e+06"),
                  Change("stretch_target", "200000", ""),
                  Change("current", "110000", "0.25"),
                  Change("unit", "per month", ""), Change("weight", "2", "1"),
                  Change("kpi", "kpis/monthly-revenue", "")));
  EXPECT_THAT(DiffKeyResults(a, a), IsEmpty());
}

TEST(DiffKeyResultsTest, StretchTargetSetAndNaNCurrent) {
  KeyResult a = ValidKr();
  a.stretch_target.reset();
  a.current = kNaN;
  KeyResult b = a;
  EXPECT_THAT(DiffKeyResults(a, b), IsEmpty());  // NaN equals NaN here
  b.stretch_target = 175000;
  EXPECT_THAT(DiffKeyResults(a, b),
              ElementsAre(Change("stretch_target", "", "175000")));
}

}  // namespace
}  // namespace sightline::goals
