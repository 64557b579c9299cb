#include "lib/csv/csv.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace sightline::csv {

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text) {
  std::vector<CsvRecord> out;
  // A UTF-8 byte order mark (spreadsheet exports) is not data.
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  int line = 1;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < n && text[i] == '"') {
        ++i;
        int start_line = line;
        for (;;) {
          if (i >= n) {
            return absl::InvalidArgumentError(absl::StrCat(
                "line ", start_line, ": a quoted field is never closed"));
          }
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field.push_back('"');
              ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
        }
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          return absl::InvalidArgumentError(absl::StrCat(
              "line ", line, ": unexpected text after a closing quote"));
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          field.push_back(text[i++]);
        }
      }
      rec.fields.push_back(field);
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') ++i;
      ++line;
      record_done = true;
    }
    // Blank lines carry no record.
    if (rec.fields.size() == 1 &&
        absl::StripAsciiWhitespace(rec.fields[0]).empty())
      continue;
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace sightline::csv
