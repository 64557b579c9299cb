#pragma once

// The metrics service's rules: who may read and change a KPI (the goals
// rules, from lib/org), formulas and their references, point validation,
// queries and status. Plain C++ over a KpiRepository and the org.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/org/org.h"
#include "services/metrics/kpi.h"
#include "services/metrics/repository.h"
#include "services/metrics/scorecard.h"

namespace sightline::metrics {

using org::Caller;

struct MetricsOptions {
  // KPIs flagged for export on /metrics, at most.
  int max_exported_kpis = 500;
  // Points at most this far ahead of now.
  int64_t max_future = kMicrosPerDay;
  // Points per write call, at most.
  int64_t max_points_per_write = 1000000;
  // Whether a Prometheus server is configured (KPIs with a query need one).
  bool prometheus_configured = false;
  // Called with the count after every write of points.
  std::function<void(int64_t)> on_points_written;
  // The goals and feedback services, for scorecards (null: those parts are
  // MISSING).
  ScorecardSources* scorecard_sources = nullptr;
  ScorecardWeights scorecard_weights;
};

struct ListSpec {
  std::string owner_person_id;
  std::string owner_team_id;
  int perspective = 0;
  int state = 0;  // KpiState, 0: any
};

struct StatusView {
  std::string kpi_id;
  int64_t period_start = 0;
  int64_t period_end = 0;
  std::optional<double> value;
  std::optional<double> previous;
  std::optional<Target> target;
  KpiState state = KpiState::kNoData;
  std::optional<Trend> trend;
  bool stale = false;
  int64_t last_point_time = 0;
  std::string source_error;
};

struct SeriesView {
  std::string dimension;
  // Per bucket: the value (absent when none) and the points folded into it.
  std::vector<std::pair<std::optional<double>, int64_t>> buckets;
};

struct ScorecardView {
  struct PerspectiveView {
    Perspective perspective = Perspective::kFinancial;
    std::vector<std::pair<Kpi, StatusView>> kpis;
    std::optional<double> score;
    double weight = 0;
  };
  ScorecardSubject subject;
  int64_t period_start = 0;
  int64_t period_end = 0;
  int64_t compute_time = 0;
  ScorecardWeights weights;
  GoalsPart goals;
  FeedbackPart feedback;
  PartState kpi_state = PartState::kNoData;
  int kpi_count = 0;
  // FINANCIAL, CUSTOMER, INTERNAL_PROCESS, LEARNING_AND_GROWTH.
  std::vector<PerspectiveView> perspectives;
  std::optional<double> overall;
  std::vector<std::string> missing_parts;
};

class MetricsService {
 public:
  MetricsService(KpiRepository* repo, org::OrgService* org,
                 MetricsOptions options);

  // `kpi.id` may be preset (the request's kpi_id); otherwise one is chosen.
  absl::StatusOr<Kpi> CreateKpi(const Caller& caller, Kpi kpi,
                                const Idempotency& idem, int64_t now);
  absl::StatusOr<Kpi> GetKpi(const Caller& caller, const std::string& id);
  // `next` receives the cursor of the next page ("" on the last).
  absl::StatusOr<std::vector<Kpi>> ListKpis(const Caller& caller,
                                            const ListSpec& spec,
                                            const Page& page, int64_t now,
                                            std::string* next);
  // Copies the fields named by `paths` (API field names) from `in`.
  absl::StatusOr<Kpi> UpdateKpi(const Caller& caller, const Kpi& in,
                                const std::vector<std::string>& paths,
                                const std::string& etag, int64_t now);
  absl::Status DeleteKpi(const Caller& caller, const std::string& id,
                         const std::string& etag);

  // A derived KPI's values come from its inputs: a reader must be able to
  // read every one of them (at any depth), or the formula would leak them.
  // PERMISSION_DENIED when one is not readable.
  absl::Status CheckInputs(const Caller& caller, const Kpi& kpi, int depth = 0);

  // All or nothing: INVALID_ARGUMENT with one violation per bad point
  // (`points[i].<field>`), PERMISSION_DENIED when the caller may read but not
  // write a KPI.
  absl::StatusOr<int64_t> WritePoints(const Caller& caller,
                                      std::vector<Point> points,
                                      const Idempotency& idem, int64_t now);

  // Buckets of `q` (aggregation: the KPI's own when unset).
  absl::StatusOr<std::vector<SeriesView>> Query(
      const Caller& caller, const PointQuery& q,
      std::optional<Aggregation> aggregation);

  absl::StatusOr<StatusView> GetStatus(const Caller& caller,
                                       const std::string& id, int64_t now);
  // GetStatus from memory only, without blocking: nullopt when the KPI or
  // its status is not held (GetStatus then computes it).
  std::optional<absl::StatusOr<StatusView>> PeekStatus(const Caller& caller,
                                                       const std::string& id,
                                                       int64_t now);
  // Without an access check (exports, scorecards of services).
  absl::StatusOr<StatusView> StatusOf(const Kpi& kpi, int64_t now);

  // The subject's goals and feedback are read from their services on the
  // caller's behalf (`who`); a service that cannot answer leaves its part
  // MISSING and the overall score unset. NOT_FOUND for an unknown subject,
  // PERMISSION_DENIED for a caller who is not the person, one of their
  // managers (a team's lead or one of the lead's managers), hr_admin or a
  // service.
  absl::StatusOr<ScorecardView> GetScorecard(const Caller& caller,
                                             const ScorecardSubject& subject,
                                             int64_t period_start,
                                             int64_t period_end,
                                             const OnBehalf& who, int64_t now);
  absl::Status CheckScorecardAccess(const Caller& caller,
                                    const ScorecardSubject& subject) const;

  bool CanRead(const Caller& caller, const Kpi& kpi) const;
  bool CanEdit(const Caller& caller, const Kpi& kpi) const;
  static std::string Etag(const Kpi& kpi);

  // Drops every status computed so far (after a write in any replica), and
  // with `definitions` every KPI held in memory (after a KPI changed).
  void Invalidate(bool definitions = false);

  // The value of a KPI over [start, end): its points folded by its
  // aggregation, or its formula over its inputs' values.
  absl::StatusOr<std::optional<double>> ValueOver(const Kpi& kpi, int64_t start,
                                                  int64_t end, int depth = 0);

 private:
  // Every KPI by id (formulas look across them).
  absl::StatusOr<absl::flat_hash_map<std::string, Kpi>> KpiMap();
  // For each KPI of `points`, the derived KPIs its points move.
  static absl::flat_hash_map<std::string, std::vector<std::string>> DerivedFrom(
      const absl::flat_hash_map<std::string, Kpi>& all,
      const std::vector<Point>& points);
  absl::Status CheckFormula(const Caller& caller, const Kpi& kpi,
                            const std::string& field);
  absl::Status CheckExportLimit(const Kpi& kpi);
  absl::Status CheckSource(const Kpi& kpi) const;
  // The same from memory only; nullopt when an input is not held.
  std::optional<bool> HeldInputsReadable(const Caller& caller, const Kpi& kpi,
                                         int depth = 0)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A KPI from memory, or read and kept.
  absl::StatusOr<Kpi> LoadKpi(const std::string& id);
  absl::StatusOr<int64_t> LastPointTime(const Kpi& kpi, int depth = 0);
  // The subject's KPIs the caller may read, with their status.
  absl::StatusOr<std::vector<std::pair<Kpi, StatusView>>> ScorecardKpis(
      const Caller& caller, const ScorecardSubject& subject, int64_t now);
  absl::StatusOr<std::vector<std::optional<double>>> DerivedBuckets(
      const Kpi& kpi, const PointQuery& q, int depth);

  KpiRepository* repo_;
  org::OrgService* org_;
  MetricsOptions options_;

  struct Cached {
    StatusView view;
    int64_t valid_until = 0;
    uint64_t generation = 0;
  };
  absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Cached> statuses_ ABSL_GUARDED_BY(mu_);
  uint64_t kpi_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Kpi> kpis_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sightline::metrics
