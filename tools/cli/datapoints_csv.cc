#include "tools/cli/datapoints_csv.h"

#include <openssl/sha.h>

#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "lib/csv/csv.h"

namespace sightline::cli {
namespace {

constexpr absl::string_view kKpiPrefix = "kpis/";

// The server's id rule (lib/server/api.cc IsId): 1..63 of [a-z0-9-].
bool IsId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    auto u = static_cast<unsigned char>(c);
    if (!absl::ascii_islower(u) && !absl::ascii_isdigit(u) && c != '-')
      return false;
  }
  return true;
}

// The server's dimension shape (services/metrics/kpi.cc ValidateDimension);
// whether the key is declared on the KPI is the server's to say.
bool IsDimension(absl::string_view d) {
  size_t eq = d.find('=');
  if (eq == absl::string_view::npos || eq == 0) return false;
  absl::string_view value = d.substr(eq + 1);
  return !value.empty() && value.size() <= 63 &&
         value.find('=') == absl::string_view::npos;
}

}  // namespace

absl::StatusOr<std::string> ParseKpiName(absl::string_view text) {
  absl::string_view id = text;
  absl::ConsumePrefix(&id, kKpiPrefix);
  if (!IsId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not kpis/{id} or an id (1..63 of a-z, 0-9, -)"));
  }
  return absl::StrCat(kKpiPrefix, id);
}

absl::StatusOr<absl::Time> ParsePointTime(absl::string_view text) {
  absl::Time t;
  std::string err;
  bool ok =
      text.size() == 10
          ? absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)
          : absl::ParseTime(absl::RFC3339_full, text, &t, &err);
  // Only a date or a full RFC 3339 time with its offset: absl accepts a
  // trailing space, nothing else.
  if (!ok || absl::StripAsciiWhitespace(text) != text) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text,
        "' is not an RFC 3339 time (2026-11-03T10:00:00Z) or a date "
        "(2026-11-03)"));
  }
  // google.protobuf.Timestamp's range.
  static const absl::Time kMin =
      absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  static const absl::Time kEnd = absl::FromCivil(
      absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  if (t < kMin || t >= kEnd) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is outside years 1..9999"));
  }
  return t;
}

absl::StatusOr<double> ParsePointValue(absl::string_view text) {
  double v = 0;
  if (text.empty() || absl::StripAsciiWhitespace(text) != text ||
      !absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a finite number"));
  }
  return v;
}

absl::StatusOr<DataPointFile> ReadDataPoints(absl::string_view text) {
  auto records = csv::ParseCsv(text);
  if (!records.ok()) return records.status();
  if (records->empty())
    return absl::InvalidArgumentError("the file is empty; expected a header");

  enum Column { kKpi, kTime, kValue, kDimension, kSource };
  static const std::map<std::string, Column>* const kNames =
      new std::map<std::string, Column>{{"kpi", kKpi},
                                        {"time", kTime},
                                        {"value", kValue},
                                        {"dimension", kDimension},
                                        {"source", kSource}};
  const csv::CsvRecord& header = records->front();
  std::map<Column, size_t> at;
  std::vector<std::string> unknown, repeated;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.fields[i]));
    auto it = kNames->find(name);
    if (it == kNames->end()) {
      unknown.push_back(absl::StrCat("'", header.fields[i], "'"));
    } else if (!at.emplace(it->second, i).second) {
      repeated.push_back(name);
    }
  }
  std::vector<std::string> missing;
  for (auto [name, column] : {std::pair<const char*, Column>{"kpi", kKpi},
                              {"time", kTime},
                              {"value", kValue}}) {
    if (!at.contains(column)) missing.push_back(name);
  }
  std::vector<std::string> problems;
  if (!missing.empty())
    problems.push_back(
        absl::StrCat("missing column(s) ", absl::StrJoin(missing, ", ")));
  if (!unknown.empty())
    problems.push_back(absl::StrCat(
        "unknown column(s) ", absl::StrJoin(unknown, ", "),
        " (expected kpi, time, value and optionally dimension, source)"));
  if (!repeated.empty())
    problems.push_back(
        absl::StrCat("repeated column(s) ", absl::StrJoin(repeated, ", ")));
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", header.line, " (header): ", absl::StrJoin(problems, "; ")));
  }
  if (records->size() == 1)
    return absl::InvalidArgumentError("no data points after the header");

  DataPointFile out;
  out.points.reserve(records->size() - 1);
  for (size_t r = 1; r < records->size(); ++r) {
    const csv::CsvRecord& rec = (*records)[r];
    if (rec.fields.size() != header.fields.size()) {
      out.errors.push_back(
          {rec.line, "",
           absl::StrCat("has ", rec.fields.size(), " fields, the header has ",
                        header.fields.size())});
      continue;
    }
    auto field = [&](Column c) -> std::string {
      auto it = at.find(c);
      if (it == at.end()) return "";
      return std::string(absl::StripAsciiWhitespace(rec.fields[it->second]));
    };
    size_t errors_before = out.errors.size();
    DataPointRow p;
    p.line = rec.line;
    auto kpi = ParseKpiName(field(kKpi));
    if (kpi.ok()) {
      p.kpi = *kpi;
    } else {
      out.errors.push_back(
          {rec.line, "kpi", std::string(kpi.status().message())});
    }
    auto time = ParsePointTime(field(kTime));
    if (time.ok()) {
      p.time = *time;
    } else {
      out.errors.push_back(
          {rec.line, "time", std::string(time.status().message())});
    }
    auto value = ParsePointValue(field(kValue));
    if (value.ok()) {
      p.value = *value;
    } else {
      out.errors.push_back(
          {rec.line, "value", std::string(value.status().message())});
    }
    p.dimension = field(kDimension);
    if (!p.dimension.empty() && !IsDimension(p.dimension)) {
      out.errors.push_back(
          {rec.line, "dimension",
           absl::StrCat("'", p.dimension,
                        "' is not key=value (value 1..63 characters)")});
    }
    p.source = field(kSource);
    if (out.errors.size() == errors_before) out.points.push_back(std::move(p));
  }
  return out;
}

std::string ImportRequestId(absl::string_view file_content) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(file_content.data()),
         file_content.size(), digest);
  return absl::StrCat(
      "import-datapoints-sha256-",
      absl::BytesToHexString(absl::string_view(
          reinterpret_cast<const char*>(digest), sizeof(digest))));
}

}  // namespace sightline::cli
