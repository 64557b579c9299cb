#pragma once

// What the goals service needs of the metrics service: a KPI's owner and
// visibility (to decide whether a key result's owner may link it), its value
// over a period, and its change feed. The gRPC implementation calls the
// metrics service with the goals service's token; tests use a fake.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/org/access.h"

namespace sightline::goals {

struct KpiInfo {
  std::string id;  // without `kpis/`
  // Owner and visibility, for org::CanRead.
  org::Owned owned;
  // A derived KPI: the KPIs its formula reads (ids), each of which a reader
  // of its values must be able to read too.
  std::vector<std::string> inputs;
};

struct KpiEvent {
  enum class Type { kOther, kUpdated, kPointsWritten };
  Type type = Type::kOther;
  KpiInfo kpi;
  // kPointsWritten: the earliest and latest time of the points written.
  absl::Time points_start = absl::InfinitePast();
  absl::Time points_end = absl::InfiniteFuture();
  std::string resume_token;
};

class KpiSource {
 public:
  virtual ~KpiSource() = default;
  // NOT_FOUND when the KPI does not exist; UNAVAILABLE when the metrics
  // service cannot answer.
  virtual absl::StatusOr<KpiInfo> GetKpi(const std::string& id) = 0;
  // The KPI's value over [start, end) with its own aggregation; nullopt when
  // no point falls in that range.
  virtual absl::StatusOr<std::optional<double>> ValueOver(const std::string& id,
                                                          absl::Time start,
                                                          absl::Time end) = 0;
  // Follows the feed from `resume_token` (empty: from now), calling
  // `on_event` for each event in commit order, until the stream fails,
  // `on_event` returns an error, or Cancel(). `on_open` runs once the stream
  // is established, before the first event; its error ends the stream.
  virtual absl::Status Watch(
      const std::string& resume_token,
      const std::function<absl::Status()>& on_open,
      const std::function<absl::Status(const KpiEvent&)>& on_event) = 0;
  // Ends a Watch under way (and every later one) promptly.
  virtual void Cancel() = 0;
};

}  // namespace sightline::goals
