// Formulas of derived KPIs, parsed as CreateKpi and UpdateKpi parse them, then
// evaluated with every input bound (values taken from the formula's text).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/stubs/common.h"
#include "services/metrics/formula.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // the API caps a formula far below this
  std::string text(reinterpret_cast<const char*>(data), size);
  // The API's formula is a proto3 string: UTF-8, or the request is refused.
  if (!google::protobuf::internal::IsStructurallyValidUTF8(text)) return 0;
  auto f = sightline::metrics::Formula::Parse(text, "kpi.formula");
  if (!f.ok()) {
    if (f.status().code() != absl::StatusCode::kInvalidArgument) {
      __builtin_trap();
    }
    return 0;
  }
  absl::flat_hash_map<std::string, double> values;
  double v = static_cast<double>(size) - 3;
  for (const auto& id : (*f)->inputs()) values[id] = v++;
  auto out = (*f)->Evaluate(values);
  if (out.has_value() && !std::isfinite(*out)) __builtin_trap();
  if (!(*f)->inputs().empty()) {
    values.erase((*f)->inputs().front());
    if ((*f)->Evaluate(values).has_value()) __builtin_trap();
  }
  return 0;
}
