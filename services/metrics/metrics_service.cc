#include "services/metrics/metrics_service.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <future>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/org/access.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/metrics/formula.h"

namespace sightline::metrics {
namespace {

// Formulas may name derived KPIs, this deep at most.
constexpr int kMaxFormulaDepth = 8;
// Violations reported per write, at most.
constexpr size_t kMaxViolations = 100;

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("kpis/", id, " not found"));
}

}  // namespace

MetricsService::MetricsService(KpiRepository* repo, org::OrgService* org,
                               MetricsOptions options)
    : repo_(repo), org_(org), options_(std::move(options)) {}

bool MetricsService::CanRead(const Caller& caller, const Kpi& kpi) const {
  return org::CanRead(caller, kpi.owned(), *org_);
}

bool MetricsService::CanEdit(const Caller& caller, const Kpi& kpi) const {
  return org::CanEdit(caller, kpi.owned(), *org_);
}

std::string MetricsService::Etag(const Kpi& kpi) {
  return storage::Etag(absl::StrCat("kpis/", kpi.id), kpi.revision);
}

void MetricsService::Invalidate(bool definitions) {
  absl::MutexLock lock(&mu_);
  ++generation_;
  statuses_.clear();
  if (definitions) {
    ++kpi_generation_;
    kpis_.clear();
  }
}

absl::StatusOr<Kpi> MetricsService::LoadKpi(const std::string& id) {
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = kpis_.find(id);
    if (it != kpis_.end()) return it->second;
    generation = kpi_generation_;
  }
  auto kpi = repo_->GetKpi(id);
  if (!kpi.ok()) return kpi.status();
  absl::MutexLock lock(&mu_);
  // Bounded: the map is dropped whole when it grows past this.
  if (kpis_.size() >= 100000) kpis_.clear();
  if (generation == kpi_generation_) kpis_[id] = *kpi;
  return kpi;
}

absl::StatusOr<absl::flat_hash_map<std::string, Kpi>> MetricsService::KpiMap() {
  auto all = repo_->AllKpis();
  if (!all.ok()) return all.status();
  absl::flat_hash_map<std::string, Kpi> out;
  for (auto& k : *all) out.emplace(k.id, std::move(k));
  return out;
}

absl::Status MetricsService::CheckFormula(const Caller& caller, const Kpi& kpi,
                                          const std::string& field) {
  if (!kpi.derived()) return absl::OkStatus();
  auto formula = Formula::Parse(kpi.formula, field);
  if (!formula.ok()) return formula.status();
  auto all = KpiMap();
  if (!all.ok()) return all.status();
  all->insert_or_assign(kpi.id, kpi);
  for (const auto& id : (*formula)->inputs()) {
    auto it = all->find(id);
    // A KPI the caller may not read is as unknown as one that does not
    // exist: the answer must not tell them apart.
    if (it == all->end() || !CanRead(caller, it->second)) {
      return status::InvalidFields(
          {{field,
            absl::StrCat("names an unknown KPI '", FormulaName(id), "'")}});
    }
  }
  // Cycles, and chains deeper than kMaxFormulaDepth.
  std::function<absl::Status(const std::string&, int, std::set<std::string>&)>
      walk = [&](const std::string& id, int depth,
                 std::set<std::string>& path) -> absl::Status {
    if (depth > kMaxFormulaDepth) {
      return status::InvalidFields(
          {{field, absl::StrCat("formulas nest more than ", kMaxFormulaDepth,
                                " deep")}});
    }
    auto it = all->find(id);
    if (it == all->end() || !it->second.derived()) return absl::OkStatus();
    auto f = Formula::Parse(it->second.formula, field);
    if (!f.ok()) return absl::OkStatus();  // stored ones parsed when saved
    for (const auto& in : (*f)->inputs()) {
      if (path.count(in)) {
        return status::InvalidFields(
            {{field,
              absl::StrCat("makes a cycle through '", FormulaName(in), "'")}});
      }
      path.insert(in);
      if (auto st = walk(in, depth + 1, path); !st.ok()) return st;
      path.erase(in);
    }
    return absl::OkStatus();
  };
  std::set<std::string> path{kpi.id};
  return walk(kpi.id, 0, path);
}

absl::Status MetricsService::CheckSource(const Kpi& kpi) const {
  if (kpi.prom_query.empty() || options_.prometheus_configured)
    return absl::OkStatus();
  return absl::FailedPreconditionError(
      "kpi.prometheus.query: this deployment reads no Prometheus (start the "
      "metrics service with --prometheus_url)");
}

absl::Status MetricsService::CheckInputs(const Caller& caller, const Kpi& kpi,
                                         int depth) {
  if (!kpi.derived() || depth > kMaxFormulaDepth) return absl::OkStatus();
  auto f = Formula::Parse(kpi.formula, "kpi.formula");
  if (!f.ok()) return f.status();
  for (const auto& id : (*f)->inputs()) {
    auto in = LoadKpi(id);
    if (absl::IsNotFound(in.status())) continue;  // absent: no value anyway
    if (!in.ok()) return in.status();
    if (!CanRead(caller, *in)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "kpis/", kpi.id,
          " is computed from a KPI you may not read; its values are not "
          "shown to you"));
    }
    if (auto st = CheckInputs(caller, *in, depth + 1); !st.ok()) return st;
  }
  return absl::OkStatus();
}

std::optional<bool> MetricsService::HeldInputsReadable(const Caller& caller,
                                                       const Kpi& kpi,
                                                       int depth) {
  if (!kpi.derived() || depth > kMaxFormulaDepth) return true;
  auto f = Formula::Parse(kpi.formula, "kpi.formula");
  if (!f.ok()) return std::nullopt;
  for (const auto& id : (*f)->inputs()) {
    auto it = kpis_.find(id);
    if (it == kpis_.end()) return std::nullopt;
    if (!CanRead(caller, it->second)) return false;
    auto deeper = HeldInputsReadable(caller, it->second, depth + 1);
    if (!deeper || !*deeper) return deeper;
  }
  return true;
}

absl::Status MetricsService::CheckExportLimit(const Kpi& kpi) {
  if (!kpi.exported) return absl::OkStatus();
  // What goes on /metrics is read by anyone who reaches the port: a derived
  // KPI is exported only when everything it is computed from is PUBLIC.
  std::function<absl::Status(const Kpi&, int)> public_inputs =
      [&](const Kpi& k, int depth) -> absl::Status {
    if (!k.derived() || depth > kMaxFormulaDepth) return absl::OkStatus();
    auto f = Formula::Parse(k.formula, "kpi.formula");
    if (!f.ok()) return f.status();
    for (const auto& id : (*f)->inputs()) {
      auto in = LoadKpi(id);
      if (!in.ok()) continue;
      if (in->visibility != Visibility::kPublic) {
        return absl::FailedPreconditionError(
            "kpi.export: a derived KPI is exported only when every KPI it "
            "is computed from is PUBLIC");
      }
      if (auto st = public_inputs(*in, depth + 1); !st.ok()) return st;
    }
    return absl::OkStatus();
  };
  if (auto st = public_inputs(kpi, 0); !st.ok()) return st;
  auto all = repo_->AllKpis();
  if (!all.ok()) return all.status();
  int n = 0;
  for (const auto& k : *all) {
    if (k.exported && k.id != kpi.id) ++n;
  }
  if (n >= options_.max_exported_kpis) {
    return absl::FailedPreconditionError(
        absl::StrCat("kpi.export: ", n,
                     " KPIs are exported already, the most allowed "
                     "(--max_exported_kpis)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Kpi> MetricsService::CreateKpi(const Caller& caller, Kpi kpi,
                                              const Idempotency& idem,
                                              int64_t now) {
  auto prior = repo_->FindIdempotent(idem);
  if (!prior.ok()) return prior.status();
  if (prior->has_value()) return repo_->GetKpi(**prior);
  if (kpi.id.empty()) kpi.id = absl::StrCat("k", storage::NewId());
  if (auto st = ValidateKpi(kpi); !st.ok()) return st;
  if (!kpi.owner_person_id.empty()) {
    if (auto st =
            org_->ValidatePeople({kpi.owner_person_id}, {"kpi.owner_person"});
        !st.ok())
      return st;
  } else if (auto st = org_->ValidateTeam(kpi.owner_team_id, "kpi.owner_team");
             !st.ok()) {
    return st;
  }
  if (!CanEdit(caller, kpi)) {
    return absl::PermissionDeniedError(
        "kpi.owner: only the owner, the owner's managers (a team's lead and "
        "the lead's managers) and services create a KPI for that owner");
  }
  if (auto st = CheckFormula(caller, kpi, "kpi.formula"); !st.ok()) return st;
  if (auto st = CheckExportLimit(kpi); !st.ok()) return st;
  if (auto st = CheckSource(kpi); !st.ok()) return st;
  kpi.revision = 1;
  kpi.create_time = kpi.update_time = now;
  auto id = repo_->InsertKpi(kpi, idem);
  if (!id.ok()) return id.status();
  if (*id != kpi.id) return repo_->GetKpi(*id);
  return kpi;
}

absl::StatusOr<Kpi> MetricsService::GetKpi(const Caller& caller,
                                           const std::string& id) {
  auto kpi = LoadKpi(id);
  if (!kpi.ok()) return kpi.status();
  if (!CanRead(caller, *kpi)) return NotFound(id);
  return kpi;
}

absl::StatusOr<std::vector<Kpi>> MetricsService::ListKpis(const Caller& caller,
                                                          const ListSpec& spec,
                                                          const Page& page,
                                                          int64_t now,
                                                          std::string* next) {
  KpiQuery q{spec.owner_person_id, spec.owner_team_id, spec.perspective};
  std::vector<Kpi> out;
  Page batch{page.after, std::max(page.limit, 50)};
  next->clear();
  // Unreadable KPIs are skipped; read on in batches until the page is full.
  for (int rounds = 0; rounds < 100; ++rounds) {
    auto rows = repo_->ListKpis(q, batch);
    if (!rows.ok()) return rows.status();
    for (auto& k : *rows) {
      batch.after = k.id;
      if (!CanRead(caller, k)) continue;
      if (spec.state != 0) {
        if (!CheckInputs(caller, k).ok()) continue;
        auto st = StatusOf(k, now);
        if (!st.ok()) return st.status();
        if (static_cast<int>(st->state) != spec.state) continue;
      }
      out.push_back(std::move(k));
      if (static_cast<int>(out.size()) == page.limit) {
        *next = batch.after;
        return out;
      }
    }
    if (static_cast<int>(rows->size()) < batch.limit) return out;
  }
  *next = batch.after;
  return out;
}

absl::StatusOr<Kpi> MetricsService::UpdateKpi(
    const Caller& caller, const Kpi& in, const std::vector<std::string>& paths,
    const std::string& etag, int64_t now) {
  auto stored = repo_->GetKpi(in.id);
  if (!stored.ok()) return stored.status();
  if (!CanRead(caller, *stored)) return NotFound(in.id);
  if (!CanEdit(caller, *stored)) {
    return absl::PermissionDeniedError(
        "only the owner, the owner's managers and services edit a KPI");
  }
  if (!etag.empty() && etag != Etag(*stored)) {
    return absl::AbortedError("kpi.etag: the KPI changed; read it again");
  }
  Kpi k = *stored;
  bool owner_changed = false;
  for (const auto& p : paths) {
    if (p == "display_name")
      k.display_name = in.display_name;
    else if (p == "description")
      k.description = in.description;
    else if (p == "owner_person" || p == "owner_team") {
      k.owner_person_id = in.owner_person_id;
      k.owner_team_id = in.owner_team_id;
      owner_changed = true;
    } else if (p == "format")
      k.format = in.format;
    else if (p == "currency_code")
      k.currency_code = in.currency_code;
    else if (p == "unit")
      k.unit = in.unit;
    else if (p == "direction")
      k.direction = in.direction;
    else if (p == "band") {
      k.band_low = in.band_low;
      k.band_high = in.band_high;
    } else if (p == "aggregation")
      k.aggregation = in.aggregation;
    else if (p == "period")
      k.period = in.period;
    else if (p == "cadence")
      k.cadence = in.cadence;
    else if (p == "perspective")
      k.perspective = in.perspective;
    else if (p == "visibility")
      k.visibility = in.visibility;
    else if (p == "dimension_keys")
      k.dimension_keys = in.dimension_keys;
    else if (p == "formula")
      k.formula = in.formula;
    else if (p == "prometheus" || p == "prometheus.query")
      k.prom_query = in.prom_query;
    else if (p == "targets")
      k.targets = in.targets;
    else if (p == "export")
      k.exported = in.exported;
    else
      return status::InvalidFields(
          {{"update_mask",
            absl::StrCat("unknown or read-only field '", p, "'")}});
  }
  if (auto st = ValidateKpi(k); !st.ok()) return st;
  if (owner_changed) {
    if (!k.owner_person_id.empty()) {
      if (auto st =
              org_->ValidatePeople({k.owner_person_id}, {"kpi.owner_person"});
          !st.ok())
        return st;
    } else if (auto st = org_->ValidateTeam(k.owner_team_id, "kpi.owner_team");
               !st.ok()) {
      return st;
    }
    if (!CanEdit(caller, k)) {
      return absl::PermissionDeniedError(
          "kpi.owner: the new owner must be one whose KPIs you edit");
    }
  }
  if (k.formula != stored->formula) {
    if (auto st = CheckFormula(caller, k, "kpi.formula"); !st.ok()) return st;
  }
  if (k.prom_query != stored->prom_query) {
    if (auto st = CheckSource(k); !st.ok()) return st;
  }
  if (k.exported && !stored->exported) {
    if (auto st = CheckExportLimit(k); !st.ok()) return st;
  }
  k.revision = stored->revision + 1;
  k.update_time = now;
  if (auto st = repo_->UpdateKpi(k, stored->revision); !st.ok()) return st;
  Invalidate(/*definitions=*/true);
  return k;
}

absl::Status MetricsService::DeleteKpi(const Caller& caller,
                                       const std::string& id,
                                       const std::string& etag) {
  auto stored = repo_->GetKpi(id);
  if (!stored.ok()) return stored.status();
  if (!CanRead(caller, *stored)) return NotFound(id);
  if (!CanEdit(caller, *stored)) {
    return absl::PermissionDeniedError(
        "only the owner, the owner's managers and services delete a KPI");
  }
  if (!etag.empty() && etag != Etag(*stored)) {
    return absl::AbortedError("etag: the KPI changed; read it again");
  }
  auto all = repo_->AllKpis();
  if (!all.ok()) return all.status();
  for (const auto& k : *all) {
    if (!k.derived() || k.id == id) continue;
    auto f = Formula::Parse(k.formula, "formula");
    if (!f.ok()) continue;
    const auto& in = (*f)->inputs();
    if (std::binary_search(in.begin(), in.end(), id)) {
      // Naming a KPI the caller may not read would reveal it.
      return absl::FailedPreconditionError(
          CanRead(caller, k)
              ? absl::StrCat("kpis/", k.id, " is derived from this KPI")
              : std::string("a derived KPI is computed from this KPI"));
    }
  }
  if (auto st = repo_->DeleteKpi(id, stored->revision); !st.ok()) return st;
  Invalidate(/*definitions=*/true);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MetricsService::WritePoints(const Caller& caller,
                                                    std::vector<Point> points,
                                                    const Idempotency& idem,
                                                    int64_t now) {
  if (points.empty()) {
    return status::InvalidFields({{"points", "send at least one point"}});
  }
  if (static_cast<int64_t>(points.size()) > options_.max_points_per_write) {
    return status::InvalidFields(
        {{"points", absl::StrCat("at most ", options_.max_points_per_write,
                                 " points per call; split the load")}});
  }
  auto prior = repo_->FindIdempotent(idem);
  if (!prior.ok()) return prior.status();
  if (prior->has_value()) {
    int64_t n = 0;
    if (absl::SimpleAtoi(**prior, &n)) return n;
  }
  auto all = KpiMap();
  if (!all.ok()) return all.status();
  std::vector<status::FieldViolation> violations;
  size_t bad = 0;
  auto add = [&](size_t i, absl::string_view field, std::string rule) {
    ++bad;
    if (violations.size() < kMaxViolations) {
      violations.push_back(
          {absl::StrCat("points[", i, "].", field), std::move(rule)});
    }
  };
  // Decisions per KPI are made once, not once per point.
  absl::flat_hash_map<std::string, int> access;  // 0 unknown, 1 read, 2 edit
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    auto it = all->find(p.kpi_id);
    int level = 0;
    if (it != all->end()) {
      auto [a, fresh] = access.try_emplace(p.kpi_id, 0);
      if (fresh) {
        a->second = CanEdit(caller, it->second)   ? 2
                    : CanRead(caller, it->second) ? 1
                                                  : 0;
      }
      level = a->second;
    }
    if (level == 0) {
      add(i, "kpi", absl::StrCat("unknown KPI kpis/", p.kpi_id));
      continue;
    }
    if (level == 1) {
      return absl::PermissionDeniedError(
          absl::StrCat("points[", i,
                       "].kpi: only the owner, the owner's managers and "
                       "services write points of kpis/",
                       p.kpi_id));
    }
    const Kpi& kpi = it->second;
    if (kpi.derived()) {
      add(i, "kpi", "a derived KPI takes no points; write its inputs");
    }
    if (!std::isfinite(p.value)) add(i, "value", "must be a finite number");
    if (p.time < 0) add(i, "time", "must be after 1970");
    if (p.time > now + options_.max_future) {
      add(i, "time", "must be at most a day in the future");
    }
    if (auto st = ValidateDimension(kpi, p.dimension,
                                    absl::StrCat("points[", i, "].dimension"));
        !st.ok()) {
      ++bad;
      for (auto& v : status::FieldViolations(st)) {
        if (violations.size() < kMaxViolations) violations.push_back(v);
      }
    }
    if (p.source.size() > 200) add(i, "source", "at most 200 characters");
  }
  if (bad > 0) {
    if (bad > violations.size()) {
      violations.push_back(
          {"points", absl::StrCat(bad - violations.size() + 1,
                                  " more violations not listed")});
    }
    return status::InvalidFields(violations);
  }
  auto n = repo_->WritePoints(points, idem, DerivedFrom(*all, points));
  if (!n.ok()) return n.status();
  Invalidate();
  if (options_.on_points_written) options_.on_points_written(*n);
  return n;
}

absl::flat_hash_map<std::string, std::vector<std::string>>
MetricsService::DerivedFrom(const absl::flat_hash_map<std::string, Kpi>& all,
                            const std::vector<Point>& points) {
  absl::flat_hash_map<std::string, std::vector<std::string>> out;
  // Which derived KPIs read each KPI directly.
  absl::flat_hash_map<std::string, std::vector<std::string>> readers;
  for (const auto& [id, k] : all) {
    if (!k.derived()) continue;
    auto f = Formula::Parse(k.formula, "formula");
    if (!f.ok()) continue;
    for (const auto& in : (*f)->inputs()) readers[in].push_back(id);
  }
  if (readers.empty()) return out;
  for (const auto& p : points) {
    if (out.contains(p.kpi_id)) continue;
    // Every KPI computed from this one, through formulas of formulas.
    // Breadth first, so that each is reached by its shortest path; no
    // further than a formula is evaluated (kMaxFormulaDepth).
    std::vector<std::string>& moved = out[p.kpi_id];
    std::deque<std::pair<std::string, int>> next = {{p.kpi_id, 0}};
    absl::flat_hash_set<std::string> seen = {p.kpi_id};
    while (!next.empty()) {
      auto [id, depth] = next.front();
      next.pop_front();
      auto r = readers.find(id);
      if (r == readers.end() || depth >= kMaxFormulaDepth) continue;
      for (const auto& d : r->second) {
        if (!seen.insert(d).second) continue;
        moved.push_back(d);
        next.push_back({d, depth + 1});
      }
    }
    std::sort(moved.begin(), moved.end());
  }
  return out;
}

absl::StatusOr<std::optional<double>> MetricsService::ValueOver(const Kpi& kpi,
                                                                int64_t start,
                                                                int64_t end,
                                                                int depth) {
  if (depth > kMaxFormulaDepth) return std::optional<double>();
  if (!kpi.derived()) {
    PointQuery q{kpi.id, start, end, end - start, "", ""};
    auto series = repo_->Aggregate(q);
    if (!series.ok()) return series.status();
    auto it = series->find("");
    if (it == series->end() || it->second.empty())
      return std::optional<double>();
    return it->second[0].Value(kpi.aggregation);
  }
  auto f = Formula::Parse(kpi.formula, "kpi.formula");
  if (!f.ok()) return f.status();
  absl::flat_hash_map<std::string, double> values;
  for (const auto& id : (*f)->inputs()) {
    auto in = LoadKpi(id);
    if (!in.ok()) {
      if (absl::IsNotFound(in.status())) return std::optional<double>();
      return in.status();
    }
    auto v = ValueOver(*in, start, end, depth + 1);
    if (!v.ok()) return v.status();
    if (!*v) return std::optional<double>();
    values[id] = **v;
  }
  return (*f)->Evaluate(values);
}

absl::StatusOr<std::vector<std::optional<double>>>
MetricsService::DerivedBuckets(const Kpi& kpi, const PointQuery& q, int depth) {
  size_t n = static_cast<size_t>((q.end - q.start + q.step - 1) / q.step);
  std::vector<std::optional<double>> out(n);
  if (depth > kMaxFormulaDepth) return out;
  auto f = Formula::Parse(kpi.formula, "kpi.formula");
  if (!f.ok()) return f.status();
  std::vector<std::pair<std::string, std::vector<std::optional<double>>>>
      inputs;
  for (const auto& id : (*f)->inputs()) {
    auto in = LoadKpi(id);
    if (!in.ok()) {
      if (absl::IsNotFound(in.status())) return out;
      return in.status();
    }
    std::vector<std::optional<double>> values(n);
    if (in->derived()) {
      auto v = DerivedBuckets(*in, q, depth + 1);
      if (!v.ok()) return v.status();
      values = std::move(*v);
    } else {
      PointQuery iq = q;
      iq.kpi_id = id;
      iq.dimension.clear();
      iq.group_by.clear();
      auto series = repo_->Aggregate(iq);
      if (!series.ok()) return series.status();
      const Series& s = (*series)[""];
      for (size_t i = 0; i < n && i < s.size(); ++i) {
        values[i] = s[i].Value(in->aggregation);
      }
    }
    inputs.push_back({id, std::move(values)});
  }
  absl::flat_hash_map<std::string, double> at;
  for (size_t i = 0; i < n; ++i) {
    at.clear();
    bool complete = true;
    for (const auto& [id, values] : inputs) {
      if (!values[i]) {
        complete = false;
        break;
      }
      at[id] = *values[i];
    }
    if (complete) out[i] = (*f)->Evaluate(at);
  }
  return out;
}

absl::StatusOr<std::vector<SeriesView>> MetricsService::Query(
    const Caller& caller, const PointQuery& q,
    std::optional<Aggregation> aggregation) {
  auto kpi = GetKpi(caller, q.kpi_id);
  if (!kpi.ok()) return kpi.status();
  std::vector<SeriesView> out;
  if (kpi->derived()) {
    if (auto st = CheckInputs(caller, *kpi); !st.ok()) return st;
    if (!q.dimension.empty() || !q.group_by.empty() || aggregation) {
      return status::InvalidFields(
          {{"dimension",
            "a derived KPI is queried whole: no dimension, group_by or "
            "aggregation"}});
    }
    auto values = DerivedBuckets(*kpi, q, 0);
    if (!values.ok()) return values.status();
    SeriesView s;
    for (auto& v : *values) s.buckets.push_back({v, v ? 1 : 0});
    out.push_back(std::move(s));
    return out;
  }
  if (!q.dimension.empty()) {
    if (auto st = ValidateDimension(*kpi, q.dimension, "dimension"); !st.ok())
      return st;
  }
  if (!q.group_by.empty() &&
      std::find(kpi->dimension_keys.begin(), kpi->dimension_keys.end(),
                q.group_by) == kpi->dimension_keys.end()) {
    return status::InvalidFields(
        {{"group_by", "must be a dimension key the KPI declares"}});
  }
  auto series = repo_->Aggregate(q);
  if (!series.ok()) return series.status();
  Aggregation a = aggregation.value_or(kpi->aggregation);
  for (const auto& [group, buckets] : *series) {
    SeriesView s;
    s.dimension = group;
    s.buckets.reserve(buckets.size());
    for (const auto& b : buckets) s.buckets.push_back({b.Value(a), b.count});
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<int64_t> MetricsService::LastPointTime(const Kpi& kpi,
                                                      int depth) {
  if (!kpi.derived() || depth > kMaxFormulaDepth)
    return repo_->LastPointTime(kpi.id);
  // A derived KPI is as fresh as its stalest input.
  auto f = Formula::Parse(kpi.formula, "kpi.formula");
  if (!f.ok()) return f.status();
  int64_t oldest = 0;
  for (const auto& id : (*f)->inputs()) {
    auto in = LoadKpi(id);
    if (!in.ok()) return int64_t{0};
    auto t = LastPointTime(*in, depth + 1);
    if (!t.ok()) return t.status();
    if (*t == 0) return int64_t{0};
    oldest = oldest == 0 ? *t : std::min(oldest, *t);
  }
  return oldest;
}

absl::StatusOr<StatusView> MetricsService::StatusOf(const Kpi& kpi,
                                                    int64_t now) {
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = statuses_.find(kpi.id);
    if (it != statuses_.end() && now < it->second.valid_until &&
        it->second.view.kpi_id == kpi.id) {
      return it->second.view;
    }
    generation = generation_;
  }
  StatusView v;
  v.kpi_id = kpi.id;
  auto [start, end] = PeriodOf(kpi.period, now);
  v.period_start = start;
  v.period_end = end;
  auto value = ValueOver(kpi, start, end);
  if (!value.ok()) return value.status();
  v.value = *value;
  auto [pstart, pend] = PeriodOf(kpi.period, start - 1);
  auto previous = ValueOver(kpi, pstart, pend);
  if (!previous.ok()) return previous.status();
  v.previous = *previous;
  auto last = LastPointTime(kpi);
  if (!last.ok()) return last.status();
  v.last_point_time = *last;
  v.stale = IsStale(kpi, *last, now);
  if (!kpi.prom_query.empty()) {
    auto err = repo_->SourceError(kpi.id);
    if (!err.ok()) return err.status();
    if (!err->first.empty() && err->second >= *last) {
      v.source_error = err->first;
      v.stale = true;
    }
  }
  const Target* target = TargetAt(kpi, now);
  if (target) v.target = *target;
  v.state = StateOf(kpi, target, v.value, v.stale);
  v.trend = TrendOf(kpi, v.value, v.previous);
  // Valid until a write (Invalidate), the period ends, or it turns stale.
  int64_t until = std::min(end, now + 60 * int64_t{1000000});
  if (*last > 0 && !v.stale) until = std::min(until, *last + 2 * kpi.cadence);
  absl::MutexLock lock(&mu_);
  if (generation == generation_) {
    statuses_[kpi.id] = {v, until, generation};
  }
  return v;
}

std::optional<absl::StatusOr<StatusView>> MetricsService::PeekStatus(
    const Caller& caller, const std::string& id, int64_t now) {
  absl::MutexLock lock(&mu_);
  auto k = kpis_.find(id);
  if (k == kpis_.end()) return std::nullopt;
  auto s = statuses_.find(id);
  if (s == statuses_.end() || now >= s->second.valid_until) return std::nullopt;
  if (!CanRead(caller, k->second)) {
    return absl::StatusOr<StatusView>(NotFound(id));
  }
  auto inputs = HeldInputsReadable(caller, k->second);
  if (!inputs || !*inputs) return std::nullopt;  // GetStatus says why
  return absl::StatusOr<StatusView>(s->second.view);
}

absl::StatusOr<StatusView> MetricsService::GetStatus(const Caller& caller,
                                                     const std::string& id,
                                                     int64_t now) {
  auto kpi = GetKpi(caller, id);
  if (!kpi.ok()) return kpi.status();
  if (auto st = CheckInputs(caller, *kpi); !st.ok()) return st;
  return StatusOf(*kpi, now);
}

absl::Status MetricsService::CheckScorecardAccess(
    const Caller& caller, const ScorecardSubject& subject) const {
  // People and teams are known to everyone who reads the directory: an
  // unknown one is NOT_FOUND, a known one the caller may not sum up is
  // PERMISSION_DENIED (as GetFeedbackStats answers).
  std::string accountable;
  if (!subject.person_id.empty()) {
    if (!org_->Person(subject.person_id).has_value()) {
      return absl::NotFoundError(
          absl::StrCat("people/", subject.person_id, " not found"));
    }
    accountable = subject.person_id;
  } else {
    auto team = org_->Team(subject.team_id);
    if (!team.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("teams/", subject.team_id, " not found"));
    }
    accountable = team->lead_id;
  }
  if (caller.service || caller.hr_admin) return absl::OkStatus();
  if (org::IsActivePerson(caller, *org_) && !accountable.empty() &&
      (caller.person_id == accountable ||
       org::IsInChain(*org_, caller.person_id, accountable))) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "subject: a scorecard is for the person, their managers, a team's lead "
      "and the lead's managers, hr_admin and services");
}

absl::StatusOr<std::vector<std::pair<Kpi, StatusView>>>
MetricsService::ScorecardKpis(const Caller& caller,
                              const ScorecardSubject& subject, int64_t now) {
  std::vector<std::string> people;
  std::string team;
  if (!subject.person_id.empty()) {
    people.push_back(subject.person_id);
  } else {
    team = subject.team_id;
    people = org_->TeamMembers(subject.team_id);
  }
  auto owned = repo_->KpisOwnedBy(people, team);
  if (!owned.ok()) return owned.status();
  std::vector<std::pair<Kpi, StatusView>> out;
  for (auto& k : *owned) {
    // A derived KPI whose inputs the caller may not read is left out, as
    // GetKpiStatus would refuse it.
    if (!CanRead(caller, k) || !CheckInputs(caller, k).ok()) continue;
    auto st = StatusOf(k, now);
    if (!st.ok()) return st.status();
    out.emplace_back(std::move(k), std::move(*st));
  }
  return out;
}

absl::StatusOr<ScorecardView> MetricsService::GetScorecard(
    const Caller& caller, const ScorecardSubject& subject, int64_t period_start,
    int64_t period_end, const OnBehalf& who, int64_t now) {
  if (period_end <= period_start) {
    return status::InvalidField("period_end", "must be after period_start");
  }
  if (auto st = CheckScorecardAccess(caller, subject); !st.ok()) return st;
  ScorecardView view;
  view.subject = subject;
  view.period_start = period_start;
  view.period_end = period_end;
  view.compute_time = now;
  view.weights = options_.scorecard_weights;
  std::array<std::optional<double>, kScoreParts> scores;
  std::array<bool, kScoreParts> missing{};
  auto mark_missing = [&](ScorePart part, PartState* state, std::string* reason,
                          const absl::Status& why) {
    *state = PartState::kMissing;
    *reason = std::string(why.message());
    missing[static_cast<int>(part)] = true;
    view.missing_parts.push_back(ScorePartName(part));
  };

  ScorecardSources* sources = options_.scorecard_sources;
  // Feedback is asked while goals are: the answer waits for the slower one,
  // not for both in turn.
  std::future<absl::StatusOr<FeedbackInput>> feedback;
  if (sources != nullptr) {
    std::string start_date = DateOf(period_start);
    std::string end_date = DateOf(period_end - 1);
    feedback = std::async(std::launch::async, [=] {
      return sources->Feedback(who, subject, start_date, end_date);
    });
  }
  absl::StatusOr<GoalsInput> goals =
      sources != nullptr ? sources->Goals(who, subject)
                         : absl::StatusOr<GoalsInput>(absl::UnavailableError(
                               "goals: this deployment names no goals service "
                               "(--goals_address)"));
  if (goals.ok()) {
    view.goals = SummarizeGoals(*goals, period_start, period_end);
    scores[static_cast<int>(ScorePart::kGoals)] = view.goals.score;
  } else {
    mark_missing(ScorePart::kGoals, &view.goals.state, &view.goals.reason,
                 goals.status());
  }

  auto kpis = ScorecardKpis(caller, subject, now);
  if (!kpis.ok()) {
    if (feedback.valid()) feedback.wait();
    return kpis.status();
  }
  view.kpi_count = static_cast<int>(kpis->size());
  std::vector<KpiState> all_states;
  for (Perspective p :
       {Perspective::kFinancial, Perspective::kCustomer,
        Perspective::kInternalProcess, Perspective::kLearningAndGrowth}) {
    ScorecardView::PerspectiveView pv;
    pv.perspective = p;
    pv.weight = view.weights.of(PartOf(p));
    std::vector<KpiState> states;
    for (const auto& [k, st] : *kpis) {
      if (k.perspective != p) continue;
      pv.kpis.emplace_back(k, st);
      states.push_back(st.state);
      all_states.push_back(st.state);
    }
    pv.score = KpiScore(states);
    scores[static_cast<int>(PartOf(p))] = pv.score;
    view.perspectives.push_back(std::move(pv));
  }
  view.kpi_state = KpiScore(all_states).has_value() ? PartState::kComplete
                                                    : PartState::kNoData;

  absl::StatusOr<FeedbackInput> stats =
      feedback.valid()
          ? feedback.get()
          : absl::StatusOr<FeedbackInput>(absl::UnavailableError(
                "feedback: this deployment names no feedback service "
                "(--feedback_address)"));
  if (stats.ok()) {
    view.feedback = SummarizeFeedback(*stats);
    scores[static_cast<int>(ScorePart::kFeedback)] = view.feedback.score;
  } else {
    mark_missing(ScorePart::kFeedback, &view.feedback.state,
                 &view.feedback.reason, stats.status());
  }
  view.overall = OverallScore(view.weights, scores, missing);
  return view;
}

}  // namespace sightline::metrics
