#pragma once

// The metrics API's request messages as the domain's types: each violation is
// INVALID_ARGUMENT naming the request field. Pure functions, shared by the
// handler, its tests and the fuzz targets.

#include <cstdint>
#include <string>

#include "google/protobuf/timestamp.pb.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "services/metrics/kpi.h"
#include "services/metrics/metrics_service.h"
#include "sightline/metrics/v1/metrics_service.pb.h"

namespace sightline::metrics {

inline constexpr server::Shape kKpiShape{"kpis", "", "kpis/{kpi}"};

// Microseconds since the epoch; 0 after a violation naming `field` when `t` is
// not a valid time after 1970.
int64_t TimeOf(const google::protobuf::Timestamp& t, const std::string& field,
               status::FieldErrors* errors);
// Fields of `in` as the domain holds them; violations name `kpi.<field>`.
Kpi KpiOf(const v1::Kpi& in, status::FieldErrors* errors);
// A point; violations name `<at>.<field>`.
Point PointOf(const v1::DataPoint& in, const std::string& at,
              status::FieldErrors* errors);

}  // namespace sightline::metrics
