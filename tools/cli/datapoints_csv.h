#pragma once

// Reads KPI data points for `sightline import-datapoints` from a CSV file with
// a header row: kpi,time,value[,dimension][,source] in any order (names are
// case-insensitive). kpi is `kpis/{id}` or a bare id; time is RFC 3339
// (2026-11-03T10:00:00Z, 2026-11-03T12:00:00+02:00) or a date (2026-11-03,
// midnight UTC); value is a finite number; dimension is empty or key=value.
// Rows are numbered as lines in the file (the header is line 1).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sightline::cli {

struct DataPointRow {
  int line = 0;
  std::string kpi;  // always `kpis/{id}`
  absl::Time time;
  double value = 0;
  std::string dimension;
  std::string source;
};

struct DataPointError {
  int line = 0;
  std::string column;  // empty when the row as a whole is wrong
  std::string message;
};

struct DataPointFile {
  std::vector<DataPointRow> points;
  std::vector<DataPointError> errors;  // every bad row, in file order
};

// Broken CSV, a bad header and a file without rows are an error; bad rows are
// listed in DataPointFile::errors so that every problem is reported at once.
absl::StatusOr<DataPointFile> ReadDataPoints(absl::string_view csv);

// `kpis/{id}` for `kpis/{id}` or `{id}`; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseKpiName(absl::string_view text);
// RFC 3339 or YYYY-MM-DD (midnight UTC), years 1..9999.
absl::StatusOr<absl::Time> ParsePointTime(absl::string_view text);
// A finite number.
absl::StatusOr<double> ParsePointValue(absl::string_view text);

// The request_id of an import: the same file content always gives the same
// id, so that running an import again is recognised by the server as a retry.
std::string ImportRequestId(absl::string_view file_content);

}  // namespace sightline::cli
