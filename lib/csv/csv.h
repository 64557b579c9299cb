#pragma once

// RFC 4180 CSV: fields separated by commas, optionally quoted with "" as an
// escaped quote, records separated by LF or CRLF; quoted fields may span lines.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sightline::csv {

// One record with the line it starts on (the first line is 1).
struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

// Every record of `text`; blank lines carry none and a UTF-8 byte order mark
// is skipped. INVALID_ARGUMENT with the line number for an unterminated quote
// or stray characters after a closing quote.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text);

}  // namespace sightline::csv
