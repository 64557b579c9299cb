#pragma once

// Structured logs: one JSON object per line on stderr. Writes are buffered and
// flushed by a background thread (every 50 ms, or at once for errors), so that
// a line per RPC costs microseconds, not a write(2).

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sightline::telemetry {

enum class Level { kDebug, kInfo, kWarn, kError };

// A value in a log line: strings are quoted and escaped, numbers are not.
class LogValue {
 public:
  LogValue(absl::string_view s) : text_(s), quoted_(true) {}          // NOLINT
  LogValue(const std::string& s) : text_(s), quoted_(true) {}         // NOLINT
  LogValue(const char* s) : text_(s), quoted_(true) {}                // NOLINT
  LogValue(int64_t v) : text_(std::to_string(v)), quoted_(false) {}   // NOLINT
  LogValue(int v) : text_(std::to_string(v)), quoted_(false) {}       // NOLINT
  LogValue(uint64_t v) : text_(std::to_string(v)), quoted_(false) {}  // NOLINT
  LogValue(double v);                                                 // NOLINT
  LogValue(bool v) : text_(v ? "true" : "false"), quoted_(false) {}   // NOLINT

  const std::string& text() const { return text_; }
  bool quoted() const { return quoted_; }

 private:
  std::string text_;
  bool quoted_;
};

using LogFields = std::vector<std::pair<absl::string_view, LogValue>>;

// Appends `s` to `out` as the body of a JSON string (no quotes added).
void AppendJsonEscaped(absl::string_view s, std::string* out);

// Process-wide settings, set once at start.
void SetLogService(absl::string_view service);
void SetLogLevel(Level level);
bool ParseLogLevel(absl::string_view text, Level* level);

void Log(Level level, absl::string_view message, const LogFields& fields = {});
inline void LogInfo(absl::string_view m, const LogFields& f = {}) {
  Log(Level::kInfo, m, f);
}
inline void LogWarn(absl::string_view m, const LogFields& f = {}) {
  Log(Level::kWarn, m, f);
}
inline void LogError(absl::string_view m, const LogFields& f = {}) {
  Log(Level::kError, m, f);
}

// The line of one RPC, formatted without intermediate allocations: it is
// written for every call.
void LogRpc(Level level, absl::string_view method, absl::string_view code,
            int64_t duration_us, absl::string_view principal,
            absl::string_view request_id, absl::string_view error);

// Writes whatever is buffered; called on shutdown.
void FlushLogs();

// For tests: capture lines instead of writing them to stderr.
void CaptureLogsForTest(std::vector<std::string>* sink);

}  // namespace sightline::telemetry
