#pragma once

// The metrics service's domain: KPIs, their points, how points add up over a
// period, and the status rules. Plain C++; times are microseconds since the
// epoch, UTC.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "lib/org/access.h"

namespace sightline::metrics {

using org::Visibility;

enum class Format { kNumber = 1, kPercent = 2, kCurrency = 3, kDuration = 4 };
enum class Direction { kHigherIsBetter = 1, kLowerIsBetter = 2, kInRange = 3 };
enum class Aggregation {
  kSum = 1,
  kMean = 2,
  kLast = 3,
  kMin = 4,
  kMax = 5,
  kCount = 6
};
enum class Period { kDay = 1, kWeek = 2, kMonth = 3, kQuarter = 4 };
enum class Perspective {
  kFinancial = 1,
  kCustomer = 2,
  kInternalProcess = 3,
  kLearningAndGrowth = 4
};
enum class KpiState {
  kGreen = 1,
  kAmber = 2,
  kRed = 3,
  kNoData = 4,
  kStale = 5,
  kNoTarget = 6
};
enum class Trend { kImproving = 1, kWorsening = 2, kFlat = 3 };

inline constexpr int64_t kMicrosPerHour = int64_t{3600} * 1000000;
inline constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

struct Target {
  int64_t start = 0;  // [start, end)
  int64_t end = 0;
  double value = 0;
  std::optional<double> amber;
  std::optional<double> red;
};

struct Kpi {
  std::string id;
  std::string display_name;
  std::string description;
  std::string owner_person_id;
  std::string owner_team_id;
  Format format = Format::kNumber;
  std::string currency_code;
  std::string unit;
  Direction direction = Direction::kHigherIsBetter;
  double band_low = 0;
  double band_high = 0;
  Aggregation aggregation = Aggregation::kSum;
  Period period = Period::kMonth;
  int64_t cadence = kMicrosPerDay;
  Perspective perspective = Perspective::kFinancial;
  Visibility visibility = Visibility::kPublic;
  std::vector<std::string> dimension_keys;
  std::string formula;     // derived when set
  std::string prom_query;  // Prometheus-sourced when set
  std::vector<Target> targets;
  bool exported = false;
  int64_t revision = 0;
  int64_t create_time = 0;
  int64_t update_time = 0;

  bool derived() const { return !formula.empty(); }
  org::Owned owned() const {
    return {owner_person_id, owner_team_id, {}, visibility};
  }
};

struct Point {
  std::string kpi_id;
  int64_t time = 0;
  double value = 0;
  std::string dimension;  // "" or "key=value"
  std::string source;
};

// Points folded together: enough to answer every aggregation, and to merge
// partial results (hours into days).
struct Accum {
  int64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  int64_t last_time = std::numeric_limits<int64_t>::min();
  double last = 0;

  void Add(int64_t time, double value);
  void Merge(const Accum& other);
  // nullopt when there is no point (COUNT of nothing is 0).
  std::optional<double> Value(Aggregation a) const;
};

// The period holding `time`: [start, end).
std::pair<int64_t, int64_t> PeriodOf(Period p, int64_t time);

// The target covering `time` (the latest-starting one when several do).
const Target* TargetAt(const Kpi& kpi, int64_t time);

// Status of a value (README "KPI status" has a worked example per direction):
//   stale                                   -> STALE
//   no value                                -> NO_DATA
//   IN_RANGE: distance outside [low, high]   <= amber (default 0) -> GREEN,
//             <= red (default amber) -> AMBER, else RED; no target needed.
//   HIGHER_IS_BETTER, no target             -> NO_TARGET
//     value >= amber (default target value) -> GREEN
//     value >= red (default amber)          -> AMBER, else RED
//   LOWER_IS_BETTER mirrors it (<=).
KpiState StateOf(const Kpi& kpi, const Target* target,
                 std::optional<double> value, bool stale);

// Current against previous period, in the KPI's direction (IN_RANGE: closer
// to the band is better). nullopt without both values.
std::optional<Trend> TrendOf(const Kpi& kpi, std::optional<double> current,
                             std::optional<double> previous);

// Stale: the newest point is older than twice the cadence.
bool IsStale(const Kpi& kpi, int64_t last_point_time, int64_t now);

// Rules of a KPI's fields, each violation naming `kpi.<field>`. Does not look
// at other KPIs (formula references are the service's business).
absl::Status ValidateKpi(const Kpi& kpi);

// A KPI id given by a client: 1..63 of [a-z0-9-], starting with a letter.
bool IsKpiId(const std::string& id);

// "key=value" with a key the KPI declares, or "" (no dimension).
absl::Status ValidateDimension(const Kpi& kpi, const std::string& dimension,
                               const std::string& field);

}  // namespace sightline::metrics
