// The metrics API's request messages as the domain's types.

#include "services/metrics/convert.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace sightline::metrics {
namespace {

using google::protobuf::util::TimeUtil;
using server::EnumOf;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;

bool ValidTime(const google::protobuf::Timestamp& t) {
  return t.seconds() >= 0 && t.seconds() <= 253402300799 && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

// The API's UNSPECIFIED as a default.
template <typename E>
E EnumOr(int value, const google::protobuf::EnumDescriptor* d, E fallback,
         const std::string& field, status::FieldErrors* errors) {
  if (value == 0) return fallback;
  return EnumOf<E>(value, d, field, errors);
}

}  // namespace

int64_t TimeOf(const google::protobuf::Timestamp& t, const std::string& field,
               status::FieldErrors* errors) {
  if (!ValidTime(t)) {
    errors->Add(field, "must be a valid time after 1970");
    return 0;
  }
  return TimeUtil::TimestampToMicroseconds(t);
}

Kpi KpiOf(const v1::Kpi& in, status::FieldErrors* errors) {
  Kpi k;
  k.display_name = in.display_name();
  k.description = in.description();
  k.owner_person_id =
      OptionalIdOf(in.owner_person(), kPersonShape, "kpi.owner_person", errors);
  k.owner_team_id =
      OptionalIdOf(in.owner_team(), kTeamShape, "kpi.owner_team", errors);
  k.format = EnumOr<Format>(in.format(), v1::Kpi::Format_descriptor(),
                            Format::kNumber, "kpi.format", errors);
  k.currency_code = in.currency_code();
  k.unit = in.unit();
  k.direction =
      EnumOr<Direction>(in.direction(), v1::Kpi::Direction_descriptor(),
                        Direction::kHigherIsBetter, "kpi.direction", errors);
  k.band_low = in.band().low();
  k.band_high = in.band().high();
  k.aggregation =
      EnumOr<Aggregation>(in.aggregation(), v1::Kpi::Aggregation_descriptor(),
                          Aggregation::kSum, "kpi.aggregation", errors);
  k.period = EnumOr<Period>(in.period(), v1::Kpi::Period_descriptor(),
                            Period::kMonth, "kpi.period", errors);
  if (in.has_cadence()) {
    k.cadence = TimeUtil::DurationToMicroseconds(in.cadence());
  }
  k.perspective =
      EnumOr<Perspective>(in.perspective(), v1::Kpi::Perspective_descriptor(),
                          Perspective::kFinancial, "kpi.perspective", errors);
  k.visibility =
      EnumOr<Visibility>(in.visibility(), v1::Visibility_descriptor(),
                         Visibility::kPublic, "kpi.visibility", errors);
  k.dimension_keys.assign(in.dimension_keys().begin(),
                          in.dimension_keys().end());
  k.formula = in.formula();
  k.prom_query = in.prometheus().query();
  for (int i = 0; i < in.targets_size(); ++i) {
    const auto& t = in.targets(i);
    std::string at = absl::StrCat("kpi.targets[", i, "]");
    Target o;
    o.start = TimeOf(t.start_time(), at + ".start_time", errors);
    o.end = TimeOf(t.end_time(), at + ".end_time", errors);
    o.value = t.value();
    if (t.has_amber_threshold()) o.amber = t.amber_threshold();
    if (t.has_red_threshold()) o.red = t.red_threshold();
    k.targets.push_back(o);
  }
  k.exported = in.export_();
  return k;
}

Point PointOf(const v1::DataPoint& in, const std::string& at,
              status::FieldErrors* errors) {
  Point p;
  std::vector<std::string> ids;
  if (server::ParseInto(in.kpi(), kKpiShape, at + ".kpi", &ids, errors)) {
    p.kpi_id = ids[0];
  }
  if (!in.has_time()) {
    errors->Add(at + ".time", "is required");
  } else {
    p.time = TimeOf(in.time(), at + ".time", errors);
  }
  p.value = in.value();
  p.dimension = in.dimension();
  p.source = in.source();
  return p;
}

}  // namespace sightline::metrics
