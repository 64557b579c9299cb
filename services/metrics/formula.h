#pragma once

// Formulas of derived KPIs, parsed and evaluated by muParser (Debian's
// libmuparser-dev) rather than a parser of our own. A formula names KPIs by
// id, with '-' written as '_' (muParser names cannot hold '-').

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace mu {
class Parser;
}

namespace sightline::metrics {

class Formula {
 public:
  // INVALID_ARGUMENT naming `field` when the expression does not parse or
  // names no KPI.
  static absl::StatusOr<std::unique_ptr<Formula>> Parse(
      const std::string& expression, const std::string& field);
  ~Formula();

  // The KPI ids the formula reads, sorted, without duplicates.
  const std::vector<std::string>& inputs() const { return inputs_; }

  // The value for one set of inputs (by KPI id); nullopt when an input is
  // missing or the result is not a finite number (division by zero at a
  // point makes the value absent, never infinite). Not thread-safe: one
  // Formula per thread.
  std::optional<double> Evaluate(
      const absl::flat_hash_map<std::string, double>& values);

 private:
  Formula();
  std::unique_ptr<mu::Parser> parser_;
  std::deque<double> slots_;                           // bound by pointer
  std::vector<std::pair<std::string, double*>> vars_;  // KPI id -> slot
  std::vector<std::string> inputs_;
};

// The variable a KPI id is named by in formulas.
std::string FormulaName(const std::string& kpi_id);

}  // namespace sightline::metrics
