#pragma once

// The standard process_* metrics (CPU, memory, file descriptors, start time)
// that Prometheus client libraries export and dashboards expect, read from
// /proc at scrape time, plus sightline_process_threads and
// sightline_build_info.

#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace sightline::telemetry {

class ProcessCollector : public prometheus::Collectable {
 public:
  ProcessCollector(std::string service, std::string version);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string service_;
  std::string version_;
  double start_time_seconds_;
};

// Resident set size of this process in bytes (0 if unknown); for tests and
// benches.
long ResidentMemoryBytes();

}  // namespace sightline::telemetry
