// GoalsService: key results linked to KPIs of the metrics service.

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/goals/goals_service.h"
#include "services/goals/progress.h"

namespace sightline::goals {
namespace {

// The person whose reading rights the key result's owner has: the goal's
// owner person, or the lead of the owner team.
Caller OwnerOf(const Goal& g, const OrgService& org) {
  Caller c;
  c.person_id = org::AccountablePerson(
      org, org::Owned{g.owner.person_id, g.owner.team_id, {}, g.visibility});
  return c;
}

std::string KpiId(absl::string_view kpi) {
  absl::ConsumePrefix(&kpi, "kpis/");
  return std::string(kpi);
}

absl::Time Midnight(absl::CivilDay d) {
  return absl::FromUnixSeconds((d - absl::CivilDay(1970, 1, 1)) * 86400);
}

}  // namespace

absl::StatusOr<KpiInfo> GoalsService::LinkableKpi(const std::string& kpi,
                                                  const std::string& field) {
  if (options_.kpis == nullptr) {
    return status::WithErrorInfo(
        absl::FailedPreconditionError(absl::StrCat(
            field,
            ": this deployment has no metrics service "
            "(--metrics_service_address), so key results cannot follow KPIs")),
        "KPI_LINKS_DISABLED");
  }
  auto info = options_.kpis->GetKpi(KpiId(kpi));
  if (absl::IsNotFound(info.status())) {
    return status::InvalidField(field, absl::StrCat(kpi, " does not exist"));
  }
  return info;
}

absl::StatusOr<bool> GoalsService::OwnerReadsKpi(const Goal& goal,
                                                 const KpiInfo& info,
                                                 int depth) {
  if (!org::CanRead(OwnerOf(goal, *org_), info.owned, *org_)) return false;
  // A derived KPI's values are its inputs' too: the owner must read each
  // (the metrics service draws the same line for its own readers).
  constexpr int kMaxDepth = 8;
  if (info.inputs.empty()) return true;
  if (depth >= kMaxDepth) return false;
  for (const auto& id : info.inputs) {
    auto in = options_.kpis->GetKpi(id);
    if (absl::IsNotFound(in.status())) continue;  // no value from it anyway
    if (!in.ok()) return in.status();
    auto reads = OwnerReadsKpi(goal, *in, depth + 1);
    if (!reads.ok() || !*reads) return reads;
  }
  return true;
}

absl::Status GoalsService::OwnerMayRead(const Goal& goal, const KpiInfo& info,
                                        const std::string& field) {
  auto reads = OwnerReadsKpi(goal, info);
  if (!reads.ok()) return reads.status();
  if (!*reads) {
    return absl::PermissionDeniedError(absl::StrCat(
        field, ": the key result's owner may not read kpis/", info.id,
        info.inputs.empty() ? "" : " or a KPI it is computed from"));
  }
  return absl::OkStatus();
}

absl::Status GoalsService::CheckKpiLinks(
    const std::vector<Goal>& goals, const std::vector<KeyResult>& key_results,
    const std::string& field_prefix) {
  for (size_t i = 0; i < key_results.size(); ++i) {
    if (key_results[i].kpi.empty()) continue;
    const std::string field = field_prefix == "key_result"
                                  ? "key_result.kpi"
                                  : absl::StrCat(field_prefix, "[", i, "].kpi");
    auto info = LinkableKpi(key_results[i].kpi, field);
    if (!info.ok()) return info.status();
    for (const auto& g : goals) {
      if (auto st = OwnerMayRead(g, *info, field); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<absl::Time, absl::Time>> GoalsService::PeriodOf(
    const Goal& g) {
  std::string start = g.start_date, due = g.due_date;
  if (start.empty() || due.empty()) {
    auto c = CachedCycle(g.cycle_id);
    if (!c.ok()) return c.status();
    if (start.empty()) start = c->start_date;
    if (due.empty()) due = c->end_date;
  }
  auto s = ParseDate(start), d = ParseDate(due);
  if (!s.has_value() || !d.has_value() || *d < *s) {
    return absl::InternalError(
        absl::StrCat("goals/", g.id, " has no valid period"));
  }
  // The due date is the period's last day.
  return std::make_pair(Midnight(*s), Midnight(*d + 1));
}

absl::StatusOr<int> GoalsService::FollowKpi(const KpiInfo& kpi, absl::Time from,
                                            absl::Time to,
                                            const std::string& resume_token) {
  if (options_.kpis == nullptr) return 0;
  const std::string name = absl::StrCat("kpis/", kpi.id);
  auto links = repo_->KeyResultsLinkedTo(name);
  if (!links.ok()) return links.status();
  // What each goal's check-in will say, decided outside the transaction
  // (the metrics service is asked once per distinct period).
  struct Planned {
    std::vector<std::string> key_results;
    double value = 0;
    std::string note;
  };
  std::map<std::string, Planned> planned;
  std::map<std::pair<absl::Time, absl::Time>, std::optional<double>> values;
  for (const auto& link : *links) {
    if (planned.contains(link.goal_id)) {
      planned[link.goal_id].key_results.push_back(link.key_result_id);
      continue;
    }
    auto goal = repo_->GetGoal(link.goal_id);
    if (absl::IsNotFound(goal.status())) continue;
    if (!goal.ok()) return goal.status();
    if (goal->state != GoalState::kActive) continue;
    // Rights can change after linking: the owner must still read the KPI.
    auto reads = OwnerReadsKpi(*goal, kpi);
    if (!reads.ok()) return reads.status();
    if (!*reads) continue;
    auto period = PeriodOf(*goal);
    if (!period.ok()) continue;
    if (to < period->first || from >= period->second) continue;
    auto cached = values.find(*period);
    if (cached == values.end()) {
      auto v = options_.kpis->ValueOver(kpi.id, period->first, period->second);
      if (absl::IsNotFound(v.status())) return 0;  // deleted since
      if (!v.ok()) return v.status();
      cached = values.emplace(*period, *v).first;
    }
    if (!cached->second.has_value()) continue;
    Planned& p = planned[link.goal_id];
    p.key_results.push_back(link.key_result_id);
    p.value = *cached->second;
    p.note = absl::StrFormat(
        "%s = %g over %s..%s", name, p.value,
        absl::FormatCivilTime(absl::CivilDay(
            absl::ToCivilDay(period->first, absl::UTCTimeZone()))),
        absl::FormatCivilTime(absl::CivilDay(absl::ToCivilDay(
            period->second - absl::Hours(24), absl::UTCTimeZone()))));
  }
  if (planned.empty()) return 0;
  int64_t now = NowMicros();
  std::vector<std::string> cycles;
  auto st =
      repo_->Write("key_results.follow_kpi", [&](GoalTx& tx) -> absl::Status {
        cycles.clear();
        for (const auto& [goal_id, p] : planned) {
          auto fresh = tx.LoadGoal(goal_id);
          if (absl::IsNotFound(fresh.status())) continue;
          if (!fresh.ok()) return fresh.status();
          if (fresh->state != GoalState::kActive) continue;
          if (!CheckWritable(*fresh, tx).ok()) continue;
          auto krs = tx.LoadKeyResults(goal_id);
          if (!krs.ok()) return krs.status();
          CheckIn c;
          for (const auto& k : *krs) {
            // Still linked (not unlinked since), and not there yet.
            if (k.kpi != name || k.current == p.value) continue;
            if (std::find(p.key_results.begin(), p.key_results.end(), k.id) ==
                p.key_results.end())
              continue;
            c.values.push_back({k.id, p.value});
          }
          if (c.values.empty()) continue;
          c.id = storage::NewId();
          c.goal_id = goal_id;
          c.by_system = true;
          c.note = p.note;
          if (auto s = WriteCheckIn(tx, *fresh, c, kSystemAuthor, now); !s.ok())
            return s;
          cycles.push_back(fresh->cycle_id);
        }
        return tx.PutKpiResumeToken(resume_token);
      });
  if (!st.ok()) return st;
  if (options_.on_check_in) {
    for (const auto& cycle : cycles) options_.on_check_in(cycle);
  }
  return static_cast<int>(cycles.size());
}

absl::Status GoalsService::StoreKpiResumeToken(const std::string& token) {
  return repo_->Write("key_results.follow_kpi",
                      [&](GoalTx& tx) { return tx.PutKpiResumeToken(token); });
}

}  // namespace sightline::goals
