#include "services/goals/kpi_follower.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lib/telemetry/log.h"

namespace sightline::goals {

KpiFollower::KpiFollower(GoalsService* service, GoalRepository* repo,
                         KpiSource* source, KpiFollowerOptions options)
    : service_(service), repo_(repo), source_(source), options_(options) {}

KpiFollower::~KpiFollower() { Stop(); }

void KpiFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void KpiFollower::Stop() {
  stopping_ = true;
  source_->Cancel();
  if (thread_.joinable()) thread_.join();
}

void KpiFollower::Run() {
  absl::Duration backoff = options_.min_backoff;
  while (!stopping_) {
    absl::Time started = absl::Now();
    absl::Status st = FollowOnce();
    if (stopping_) break;
    // A stream that worked for a while starts the backoff over.
    if (absl::Now() - started > options_.max_backoff)
      backoff = options_.min_backoff;
    telemetry::LogWarn("KPI feed ended; reconnecting",
                       {{"error", st.message()},
                        {"backoff_ms", absl::ToInt64Milliseconds(backoff)}});
    absl::Time until = absl::Now() + backoff;
    while (!stopping_ && absl::Now() < until)
      absl::SleepFor(absl::Milliseconds(20));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::Status KpiFollower::FollowOnce() {
  auto token = repo_->KpiResumeToken();
  if (!token.ok()) return token.status();
  const bool from_now = token->empty();
  std::string pending;  // the newest position not stored yet
  int unstored = 0;
  absl::Time last_store = absl::Now();
  auto flush = [&]() -> absl::Status {
    if (unstored == 0) return absl::OkStatus();
    if (auto s = service_->StoreKpiResumeToken(pending); !s.ok()) return s;
    unstored = 0;
    last_store = absl::Now();
    return absl::OkStatus();
  };
  absl::Status st = source_->Watch(
      *token, [&] { return from_now ? Resync() : absl::OkStatus(); },
      [&](const KpiEvent& ev) -> absl::Status {
        int written = 0;
        if (ev.type == KpiEvent::Type::kPointsWritten ||
            ev.type == KpiEvent::Type::kUpdated) {
          auto n = ev.type == KpiEvent::Type::kPointsWritten
                       ? service_->FollowKpi(ev.kpi, ev.points_start,
                                             ev.points_end, ev.resume_token)
                       : service_->FollowKpi(ev.kpi, absl::InfinitePast(),
                                             absl::InfiniteFuture(),
                                             ev.resume_token);
          if (!n.ok()) return n.status();
          written = *n;
        }
        if (written > 0) {
          unstored = 0;  // stored with the check-ins
          last_store = absl::Now();
          return absl::OkStatus();
        }
        pending = ev.resume_token;
        ++unstored;
        if (unstored >= options_.flush_every ||
            absl::Now() - last_store >= options_.flush_after) {
          return flush();
        }
        return absl::OkStatus();
      });
  // What was handled stays handled.
  if (auto s = flush(); !s.ok()) {
    telemetry::LogWarn("cannot store the KPI feed position",
                       {{"error", s.message()}});
  }
  if (absl::IsOutOfRange(st) || absl::IsInvalidArgument(st)) {
    // The position is too old (or from another deployment): start from now,
    // with a full resync.
    if (auto s = service_->StoreKpiResumeToken(""); !s.ok()) return s;
  }
  return st;
}

absl::Status KpiFollower::Resync() {
  auto links = repo_->AllKpiLinks();
  if (!links.ok()) return links.status();
  std::set<std::string> kpis;
  for (const auto& [kpi, link] : *links) kpis.insert(kpi);
  for (const auto& name : kpis) {
    if (stopping_) return absl::CancelledError("stopping");
    absl::string_view id = name;
    absl::ConsumePrefix(&id, "kpis/");
    auto info = source_->GetKpi(std::string(id));
    if (absl::IsNotFound(info.status())) continue;
    if (!info.ok()) return info.status();
    // Keeps the stored position empty: a crash here resyncs again.
    auto n = service_->FollowKpi(*info, absl::InfinitePast(),
                                 absl::InfiniteFuture(), "");
    if (!n.ok()) return n.status();
  }
  return absl::OkStatus();
}

}  // namespace sightline::goals
