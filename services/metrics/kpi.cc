#include "services/metrics/kpi.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "lib/status/status.h"

namespace sightline::metrics {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t MicrosOfCivil(absl::CivilSecond c) {
  return absl::ToUnixMicros(absl::FromCivil(c, absl::UTCTimeZone()));
}

}  // namespace

void Accum::Add(int64_t time, double value) {
  ++count;
  sum += value;
  min = std::min(min, value);
  max = std::max(max, value);
  if (time >= last_time) {
    last_time = time;
    last = value;
  }
}

void Accum::Merge(const Accum& o) {
  if (o.count == 0) return;
  count += o.count;
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  if (o.last_time >= last_time) {
    last_time = o.last_time;
    last = o.last;
  }
}

std::optional<double> Accum::Value(Aggregation a) const {
  if (a == Aggregation::kCount) return static_cast<double>(count);
  if (count == 0) return std::nullopt;
  switch (a) {
    case Aggregation::kSum:
      return sum;
    case Aggregation::kMean:
      return sum / static_cast<double>(count);
    case Aggregation::kLast:
      return last;
    case Aggregation::kMin:
      return min;
    case Aggregation::kMax:
      return max;
    case Aggregation::kCount:
      break;
  }
  return std::nullopt;
}

std::pair<int64_t, int64_t> PeriodOf(Period p, int64_t time) {
  switch (p) {
    case Period::kDay: {
      int64_t s = FloorDiv(time, kMicrosPerDay) * kMicrosPerDay;
      return {s, s + kMicrosPerDay};
    }
    case Period::kWeek: {
      int64_t day = FloorDiv(time, kMicrosPerDay);
      // 1970-01-01 was a Thursday: Monday-based weekday is (day + 3) mod 7.
      int64_t monday = day - ((day % 7 + 7 + 3) % 7);
      return {monday * kMicrosPerDay, (monday + 7) * kMicrosPerDay};
    }
    case Period::kMonth:
    case Period::kQuarter: {
      absl::CivilSecond c =
          absl::ToCivilSecond(absl::FromUnixMicros(time), absl::UTCTimeZone());
      int month = c.month();
      int months = 1;
      if (p == Period::kQuarter) {
        month = (month - 1) / 3 * 3 + 1;
        months = 3;
      }
      absl::CivilMonth start(c.year(), month);
      absl::CivilMonth end = start + months;
      return {MicrosOfCivil(absl::CivilSecond(start)),
              MicrosOfCivil(absl::CivilSecond(end))};
    }
  }
  return {time, time};
}

const Target* TargetAt(const Kpi& kpi, int64_t time) {
  const Target* best = nullptr;
  for (const auto& t : kpi.targets) {
    if (t.start <= time && time < t.end && (!best || t.start >= best->start)) {
      best = &t;
    }
  }
  return best;
}

KpiState StateOf(const Kpi& kpi, const Target* target,
                 std::optional<double> value, bool stale) {
  if (stale) return KpiState::kStale;
  if (!value) return KpiState::kNoData;
  double v = *value;
  if (kpi.direction == Direction::kInRange) {
    double outside = v < kpi.band_low    ? kpi.band_low - v
                     : v > kpi.band_high ? v - kpi.band_high
                                         : 0;
    double amber = target && target->amber ? *target->amber : 0;
    double red = target && target->red ? *target->red : amber;
    if (outside <= amber) return KpiState::kGreen;
    if (outside <= red) return KpiState::kAmber;
    return KpiState::kRed;
  }
  if (!target) return KpiState::kNoTarget;
  double amber = target->amber ? *target->amber : target->value;
  double red = target->red ? *target->red : amber;
  bool higher = kpi.direction == Direction::kHigherIsBetter;
  auto at_least = [higher](double x, double line) {
    return higher ? x >= line : x <= line;
  };
  if (at_least(v, amber)) return KpiState::kGreen;
  if (at_least(v, red)) return KpiState::kAmber;
  return KpiState::kRed;
}

std::optional<Trend> TrendOf(const Kpi& kpi, std::optional<double> current,
                             std::optional<double> previous) {
  if (!current || !previous) return std::nullopt;
  double c = *current, p = *previous;
  if (kpi.direction == Direction::kInRange) {
    auto outside = [&kpi](double v) {
      return v < kpi.band_low    ? kpi.band_low - v
             : v > kpi.band_high ? v - kpi.band_high
                                 : 0.0;
    };
    c = -outside(c);
    p = -outside(p);
  } else if (kpi.direction == Direction::kLowerIsBetter) {
    c = -c;
    p = -p;
  }
  if (c > p) return Trend::kImproving;
  if (c < p) return Trend::kWorsening;
  return Trend::kFlat;
}

bool IsStale(const Kpi& kpi, int64_t last_point_time, int64_t now) {
  if (last_point_time <= 0) return false;
  return now - last_point_time > 2 * kpi.cadence;
}

bool IsKpiId(const std::string& id) {
  if (id.empty() || id.size() > 63) return false;
  if (id[0] < 'a' || id[0] > 'z') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return id.back() != '-';
}

absl::Status ValidateDimension(const Kpi& kpi, const std::string& dimension,
                               const std::string& field) {
  if (dimension.empty()) return absl::OkStatus();
  std::pair<std::string, std::string> kv =
      absl::StrSplit(dimension, absl::MaxSplits('=', 1));
  if (kv.first.empty() || kv.second.empty() || kv.second.size() > 63 ||
      kv.second.find('=') != std::string::npos) {
    return status::InvalidFields(
        {{field, "must be key=value (value 1..63 characters)"}});
  }
  if (std::find(kpi.dimension_keys.begin(), kpi.dimension_keys.end(),
                kv.first) == kpi.dimension_keys.end()) {
    return status::InvalidFields(
        {{field, absl::StrCat("dimension key '", kv.first,
                              "' is not declared on the KPI")}});
  }
  return absl::OkStatus();
}

absl::Status ValidateKpi(const Kpi& k) {
  status::FieldErrors e;
  if (k.display_name.empty() || k.display_name.size() > 200)
    e.Add("kpi.display_name", "must be 1..200 characters");
  if (k.description.size() > 4000)
    e.Add("kpi.description", "must be at most 4000 characters");
  if (k.owner_person_id.empty() == k.owner_team_id.empty())
    e.Add("kpi.owner_person", "set exactly one of owner_person, owner_team");
  if (k.format == Format::kCurrency) {
    bool iso = k.currency_code.size() == 3 &&
               std::all_of(k.currency_code.begin(), k.currency_code.end(),
                           [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!iso)
      e.Add("kpi.currency_code",
            "must be an ISO 4217 code (3 capital letters) with CURRENCY");
  } else if (!k.currency_code.empty()) {
    e.Add("kpi.currency_code", "only with format CURRENCY");
  }
  if (k.unit.size() > 32) e.Add("kpi.unit", "must be at most 32 characters");
  if (k.direction == Direction::kInRange) {
    if (!std::isfinite(k.band_low) || !std::isfinite(k.band_high) ||
        k.band_low > k.band_high)
      e.Add("kpi.band", "IN_RANGE needs a band with low <= high");
  }
  if (k.cadence < 60 * int64_t{1000000} || k.cadence > 366 * kMicrosPerDay)
    e.Add("kpi.cadence", "must be between 1 minute and 366 days");
  if (k.dimension_keys.size() > 8)
    e.Add("kpi.dimension_keys", "at most 8 keys");
  for (size_t i = 0; i < k.dimension_keys.size(); ++i) {
    const auto& key = k.dimension_keys[i];
    bool ok =
        !key.empty() && key.size() <= 32 &&
        std::all_of(key.begin(), key.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        });
    if (!ok)
      e.Add(absl::StrCat("kpi.dimension_keys[", i, "]"),
            "must be 1..32 of [a-z0-9_]");
  }
  if (k.derived() && !k.prom_query.empty())
    e.Add("kpi.formula", "a KPI is derived or Prometheus-sourced, not both");
  if (k.formula.size() > 1000)
    e.Add("kpi.formula", "must be at most 1000 characters");
  if (k.prom_query.size() > 4000)
    e.Add("kpi.prometheus.query", "must be at most 4000 characters");
  for (size_t i = 0; i < k.targets.size(); ++i) {
    const Target& t = k.targets[i];
    std::string at = absl::StrCat("kpi.targets[", i, "]");
    if (t.end <= t.start) e.Add(at + ".end_time", "must be after start_time");
    bool finite = std::isfinite(t.value) &&
                  (!t.amber || std::isfinite(*t.amber)) &&
                  (!t.red || std::isfinite(*t.red));
    if (!finite) {
      e.Add(at + ".value", "values must be finite");
      continue;
    }
    double amber = t.amber                              ? *t.amber
                   : k.direction == Direction::kInRange ? 0
                                                        : t.value;
    double red = t.red ? *t.red : amber;
    switch (k.direction) {
      case Direction::kHigherIsBetter:
        if (!(t.value >= amber && amber >= red))
          e.Add(at + ".amber_threshold",
                "HIGHER_IS_BETTER needs value >= amber_threshold >= "
                "red_threshold");
        break;
      case Direction::kLowerIsBetter:
        if (!(t.value <= amber && amber <= red))
          e.Add(at + ".amber_threshold",
                "LOWER_IS_BETTER needs value <= amber_threshold <= "
                "red_threshold");
        break;
      case Direction::kInRange:
        if (!(amber >= 0 && red >= amber))
          e.Add(at + ".amber_threshold",
                "IN_RANGE needs 0 <= amber_threshold <= red_threshold "
                "(distances outside the band)");
        break;
    }
  }
  if (k.targets.size() > 100) e.Add("kpi.targets", "at most 100 targets");
  // /metrics has no access control: only what everyone may read goes there.
  if (k.exported && k.visibility != Visibility::kPublic)
    e.Add("kpi.export", "only PUBLIC KPIs are exported on /metrics");
  return e.empty() ? absl::OkStatus() : e.Build();
}

}  // namespace sightline::metrics
