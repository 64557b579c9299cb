// The metrics service's create and update requests and data points, read and
// validated as the handler and the service do before anything is stored.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/check.h"
#include "fuzz/inputs.pb.h"
#include "lib/server/api.h"
#include "services/metrics/convert.h"
#include "services/metrics/formula.h"
#include "services/metrics/kpi.h"

namespace {

using namespace sightline::metrics;
using sightline::fuzz::Check;
using sightline::fuzz::CheckClientError;

void ReadKpi(const v1::Kpi& in) {
  sightline::status::FieldErrors errors;
  Kpi k = KpiOf(in, &errors);
  CheckClientError(errors.Build());
  if (!errors.empty()) return;
  k.id = "k1";
  CheckClientError(ValidateKpi(k));
  if (!k.formula.empty()) {
    CheckClientError(Formula::Parse(k.formula, "kpi.formula").status());
  }
  CheckClientError(ValidateDimension(k, "region=eu", "dimension"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::fuzz::MetricsInput in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  switch (in.request_case()) {
    case sightline::fuzz::MetricsInput::kCreateKpi: {
      const auto& r = in.create_kpi();
      if (!r.kpi_id().empty()) (void)IsKpiId(r.kpi_id());
      CheckClientError(sightline::server::IdempotencyOf(
                           "CreateKpi", "people/p1", r, r.request_id())
                           .status());
      ReadKpi(r.kpi());
      break;
    }
    case sightline::fuzz::MetricsInput::kUpdateKpi:
      ReadKpi(in.update_kpi().kpi());
      break;
    case sightline::fuzz::MetricsInput::kWritePoints: {
      const auto& r = in.write_points();
      sightline::status::FieldErrors errors;
      for (int i = 0; i < r.points_size(); ++i) {
        Point p =
            PointOf(r.points(i), absl::StrCat("points[", i, "]"), &errors);
        if (errors.empty()) Check(!p.kpi_id.empty());
      }
      CheckClientError(errors.Build());
      break;
    }
    case sightline::fuzz::MetricsInput::REQUEST_NOT_SET:
      break;
  }
  return 0;
}
