#pragma once

// Storage of KPIs and their points as the domain sees it. Points are kept
// raw, keyed by (kpi, dimension, time) so that a re-sent point replaces the
// first, and folded by hour in the same transaction, so that a query over a
// million points reads thousands of rows.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "lib/storage/database.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/schema.h"
#include "lib/storage/tokens.h"
#include "services/metrics/kpi.h"

namespace sightline::metrics {

using storage::Idempotency;
using storage::Page;

// Change-log entities and kinds.
inline constexpr char kKpiEntity[] = "kpi";
inline constexpr char kPointsEntity[] = "kpi_points";
inline constexpr int kCreated = 1;
inline constexpr int kUpdated = 2;
inline constexpr int kDeleted = 3;
inline constexpr int kPointsWritten = 4;

struct KpiQuery {
  std::string owner_person_id;
  std::string owner_team_id;
  int perspective = 0;
};

// Which points a query reads and how it groups them.
struct PointQuery {
  std::string kpi_id;
  int64_t start = 0;  // [start, end)
  int64_t end = 0;
  int64_t step = 0;
  std::string dimension;  // only these points ("key=value")
  std::string group_by;   // one series per value of this key
};

// Buckets of one series, folded.
using Series = std::vector<Accum>;

// What a POINTS_WRITTEN event carries.
struct PointsWritten {
  std::string kpi_id;
  int64_t from = 0;
  int64_t to = 0;
  int64_t count = 0;
};

class KpiRepository {
 public:
  virtual ~KpiRepository() = default;

  // The answer stored for a retried request, if any.
  virtual absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) = 0;

  virtual absl::StatusOr<Kpi> GetKpi(const std::string& id) = 0;
  // Ordered by id, after `page.after`.
  virtual absl::StatusOr<std::vector<Kpi>> ListKpis(const KpiQuery& q,
                                                    const Page& page) = 0;
  // Every KPI owned by one of `person_ids` or by the team `team_id` (when
  // not empty), ordered by id: one read, however many owners.
  virtual absl::StatusOr<std::vector<Kpi>> KpisOwnedBy(
      const std::vector<std::string>& person_ids,
      const std::string& team_id) = 0;
  // Every KPI (formulas, exports and Prometheus sources look across them).
  virtual absl::StatusOr<std::vector<Kpi>> AllKpis() = 0;

  // ALREADY_EXISTS when the id is taken. On a concurrent retry of the same
  // request, the first answer's id.
  virtual absl::StatusOr<std::string> InsertKpi(const Kpi& kpi,
                                                const Idempotency& idem) = 0;
  // ABORTED when the stored KPI is no longer at `expected_revision`.
  virtual absl::Status UpdateKpi(const Kpi& kpi, int64_t expected_revision) = 0;
  // Deletes the KPI and its points.
  virtual absl::Status DeleteKpi(const std::string& id,
                                 int64_t expected_revision) = 0;

  // Writes every point in one transaction (replacing points with the same
  // kpi, dimension and time), with one POINTS_WRITTEN event per KPI, and one
  // per derived KPI computed from them (`derived`: a written KPI's id -> the
  // derived KPIs whose values it moves), over the times its inputs were
  // written. Returns the count written (or, for a retried request, the first
  // answer's).
  virtual absl::StatusOr<int64_t> WritePoints(
      const std::vector<Point>& points, const Idempotency& idem,
      const absl::flat_hash_map<std::string, std::vector<std::string>>&
          derived = {}) = 0;

  // Buckets [start + i*step, start + (i+1)*step) of the query, one series
  // per group ("" without group_by), every bucket present (empty ones too).
  virtual absl::StatusOr<std::map<std::string, Series>> Aggregate(
      const PointQuery& q) = 0;
  // The time of the KPI's newest point (0 when none).
  virtual absl::StatusOr<int64_t> LastPointTime(const std::string& kpi_id) = 0;

  // The last failure of a KPI's source ("" after a success), and when.
  virtual absl::Status SetSourceError(const std::string& kpi_id,
                                      const std::string& error,
                                      int64_t time) = 0;
  virtual absl::StatusOr<std::pair<std::string, int64_t>> SourceError(
      const std::string& kpi_id) = 0;
};

// Decodes a change-log payload.
absl::StatusOr<Kpi> DecodeKpi(const std::string& payload);
absl::StatusOr<PointsWritten> DecodePointsWritten(const std::string& payload);

}  // namespace sightline::metrics
