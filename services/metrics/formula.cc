#include "services/metrics/formula.h"

#include <muParser.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "lib/status/status.h"
#include "services/metrics/kpi.h"

namespace sightline::metrics {
namespace {

struct Factory {
  std::deque<double>* slots;
  std::vector<std::pair<std::string, double*>>* vars;
};

double* MakeVar(const char* name, void* user) {
  auto* f = static_cast<Factory*>(user);
  f->slots->push_back(0);
  double* slot = &f->slots->back();
  f->vars->push_back({absl::StrReplaceAll(name, {{"_", "-"}}), slot});
  return slot;
}

}  // namespace

std::string FormulaName(const std::string& kpi_id) {
  return absl::StrReplaceAll(kpi_id, {{"-", "_"}});
}

Formula::Formula() : parser_(std::make_unique<mu::Parser>()) {}
Formula::~Formula() = default;

absl::StatusOr<std::unique_ptr<Formula>> Formula::Parse(
    const std::string& expression, const std::string& field) {
  std::unique_ptr<Formula> f(new Formula());
  Factory factory{&f->slots_, &f->vars_};
  try {
    f->parser_->DefineNameChars(
        "0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    f->parser_->SetVarFactory(MakeVar, &factory);
    f->parser_->SetExpr(expression);
    // Parsing happens at the first evaluation; the factory sees each name.
    f->parser_->Eval();
  } catch (const mu::Parser::exception_type& e) {
    return status::InvalidFields(
        {{field, absl::StrCat("does not parse: ", e.GetMsg())}});
  }
  for (const auto& [id, slot] : f->vars_) {
    if (!IsKpiId(id)) {
      return status::InvalidFields(
          {{field, absl::StrCat("'", FormulaName(id),
                                "' is not a KPI id written with '_'")}});
    }
    f->inputs_.push_back(id);
  }
  if (f->inputs_.empty()) {
    return status::InvalidFields({{field, "must name at least one KPI"}});
  }
  std::sort(f->inputs_.begin(), f->inputs_.end());
  f->inputs_.erase(std::unique(f->inputs_.begin(), f->inputs_.end()),
                   f->inputs_.end());
  return f;
}

std::optional<double> Formula::Evaluate(
    const absl::flat_hash_map<std::string, double>& values) {
  for (const auto& [id, slot] : vars_) {
    auto it = values.find(id);
    if (it == values.end()) return std::nullopt;
    *slot = it->second;
  }
  double out = 0;
  try {
    out = parser_->Eval();
  } catch (const mu::Parser::exception_type&) {
    return std::nullopt;
  }
  if (!std::isfinite(out)) return std::nullopt;
  return out;
}

}  // namespace sightline::metrics
