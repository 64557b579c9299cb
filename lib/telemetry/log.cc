#include "lib/telemetry/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace sightline::telemetry {
namespace {

constexpr size_t kFlushBytes = 64 * 1024;

absl::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

class Sink {
 public:
  static Sink& Get() {
    static Sink* sink = new Sink();  // never destroyed: used until exit
    return *sink;
  }

  void Append(absl::string_view line, bool urgent) {
    bool flush_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (capture_ != nullptr) {
        capture_->emplace_back(line);
        return;
      }
      buffer_.append(line.data(), line.size());
      buffer_ += '\n';
      flush_now = urgent || buffer_.size() >= kFlushBytes;
      if (!started_) {
        started_ = true;
        std::thread([this] { FlushLoop(); }).detach();
      }
    }
    if (flush_now) Flush();
  }

  void Flush() {
    absl::MutexLock write_lock(&write_mu_);
    std::string out;
    {
      absl::MutexLock lock(&mu_);
      out.swap(buffer_);
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = write(STDERR_FILENO, out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }

  void Capture(std::vector<std::string>* sink) {
    absl::MutexLock lock(&mu_);
    capture_ = sink;
  }

  // Set once at start, before any RPC; read without a lock afterwards.
  const std::string& service() const { return service_; }
  void set_service(absl::string_view s) { service_ = std::string(s); }

 private:
  void FlushLoop() {
    for (;;) {
      absl::SleepFor(absl::Milliseconds(50));
      Flush();
    }
  }

  absl::Mutex mu_;
  absl::Mutex write_mu_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string>* capture_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string service_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

}  // namespace

LogValue::LogValue(double v)
    : text_(absl::StrFormat("%.6g", v)), quoted_(false) {}

void AppendJsonEscaped(absl::string_view s, std::string* out) {
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(s.data(), s.size());
    return;
  }
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

void SetLogService(absl::string_view service) {
  Sink::Get().set_service(service);
}

void SetLogLevel(Level level) { g_level.store(static_cast<int>(level)); }

bool ParseLogLevel(absl::string_view text, Level* level) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "debug")
    *level = Level::kDebug;
  else if (t == "info")
    *level = Level::kInfo;
  else if (t == "warn" || t == "warning")
    *level = Level::kWarn;
  else if (t == "error")
    *level = Level::kError;
  else
    return false;
  return true;
}

namespace {

// `{"ts":"...","level":"...","service":"...","msg":"` + message + `"`.
void AppendPrefix(Level level, absl::string_view message, std::string* line) {
  // Formatting a time is slow; the seconds part is formatted once a second.
  thread_local int64_t cached_second = -1;
  thread_local std::string cached_prefix;
  int64_t millis = absl::ToUnixMillis(absl::Now());
  int64_t second = millis / 1000;
  if (second != cached_second) {
    cached_second = second;
    cached_prefix =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                         absl::UTCTimeZone());
  }
  int ms = static_cast<int>(millis % 1000);
  char frac[6] = {'.',
                  static_cast<char>('0' + ms / 100),
                  static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10),
                  'Z',
                  '\0'};
  line->append("{\"ts\":\"");
  line->append(cached_prefix);
  line->append(frac, 5);
  line->append("\",\"level\":\"");
  line->append(LevelName(level).data(), LevelName(level).size());
  line->push_back('"');
  const std::string& service = Sink::Get().service();
  if (!service.empty()) {
    line->append(",\"service\":\"");
    AppendJsonEscaped(service, line);
    line->push_back('"');
  }
  line->append(",\"msg\":\"");
  AppendJsonEscaped(message, line);
  line->push_back('"');
}

void AppendField(absl::string_view key, absl::string_view value,
                 std::string* line) {
  line->append(",\"");
  line->append(key.data(), key.size());
  line->append("\":\"");
  AppendJsonEscaped(value, line);
  line->push_back('"');
}

}  // namespace

void LogRpc(Level level, absl::string_view method, absl::string_view code,
            int64_t duration_us, absl::string_view principal,
            absl::string_view request_id, absl::string_view error) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  // One line per call: formatted in a buffer each thread keeps.
  thread_local std::string line;
  line.clear();
  AppendPrefix(level, "rpc", &line);
  AppendField("method", method, &line);
  AppendField("code", code, &line);
  // Milliseconds with three decimals, from integer microseconds.
  if (duration_us < 0) duration_us = 0;
  absl::StrAppend(&line, ",\"duration_ms\":", duration_us / 1000, ".");
  int frac = static_cast<int>(duration_us % 1000);
  char digits[3] = {static_cast<char>('0' + frac / 100),
                    static_cast<char>('0' + frac / 10 % 10),
                    static_cast<char>('0' + frac % 10)};
  line.append(digits, 3);
  AppendField("principal", principal, &line);
  AppendField("request_id", request_id, &line);
  if (!error.empty()) AppendField("error", error, &line);
  line.push_back('}');
  Sink::Get().Append(line, level == Level::kError);
}

void Log(Level level, absl::string_view message, const LogFields& fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line;
  line.reserve(160);
  AppendPrefix(level, message, &line);
  for (const auto& [key, value] : fields) {
    line.append(",\"");
    AppendJsonEscaped(key, &line);
    line.append("\":");
    if (value.quoted()) {
      line.push_back('"');
      AppendJsonEscaped(value.text(), &line);
      line.push_back('"');
    } else {
      line.append(value.text());
    }
  }
  line.push_back('}');
  Sink::Get().Append(line, level == Level::kError);
}

void FlushLogs() { Sink::Get().Flush(); }

void CaptureLogsForTest(std::vector<std::string>* sink) {
  Sink::Get().Capture(sink);
}

}  // namespace sightline::telemetry
