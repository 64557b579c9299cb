#include "lib/storage/database.h"

#include <fcntl.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lib/storage/schema.h"
#include "lib/telemetry/log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace sightline::storage {
namespace {

// A write that loses a race with another (PostgreSQL serialization failure,
// deadlock, SQLite busy) runs again, up to this many times in all, after a
// short randomized pause.
constexpr int kMaxAttempts = 16;

// PostgreSQL change-log positions: seq_base + (xid - xid_base) * 2^kXidShift +
// index of the event in its transaction.
constexpr int kXidShift = 20;

bool IsRetryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted;
}

// Marks a status as a lost race the body of a write reported.
constexpr char kConflictPayload[] = "type.sightline.dev/storage.conflict";

// SOCI's exception, turned into a status. Connection trouble is UNAVAILABLE;
// a lost serialization race is ABORTED (Write retries it); a unique-key clash
// is ALREADY_EXISTS; anything else is INTERNAL.
absl::Status MapError(const soci::soci_error& e, bool* broken) {
  std::string msg(e.get_error_message());
  if (msg.empty()) msg = e.what();
  if (const auto* pe = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    std::string state = pe->sqlstate();
    if (state == "40001" || state == "40P01") return absl::AbortedError(msg);
    if (state == "23505") return absl::AlreadyExistsError(msg);
    if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P") ||
        absl::StartsWith(state, "53")) {
      *broken = true;
      return absl::UnavailableError(
          absl::StrCat("database unavailable: ", msg));
    }
  }
  if (const auto* se = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    int rc = se->result() & 0xff;
    if (rc == 5 || rc == 6) return absl::AbortedError(msg);  // BUSY, LOCKED
    if (rc == 19) return absl::AlreadyExistsError(msg);      // CONSTRAINT
    if (rc == 13)
      return absl::UnavailableError(absl::StrCat("disk full: ", msg));
  }
  if (e.get_error_category() == soci::soci_error::connection_error) {
    *broken = true;
    return absl::UnavailableError(absl::StrCat("database unavailable: ", msg));
  }
  return absl::InternalError(msg);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(in[i]);
    }
  }
  return true;
}

// libpq keyword values are single-quoted with \ and ' escaped.
std::string Quote(absl::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

absl::Status MakeParentDirs(const std::string& path) {
  size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos) {
    std::string dir = path.substr(0, pos);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("db: cannot create ", dir));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RetryableConflict(absl::string_view message) {
  absl::Status st = absl::AbortedError(message);
  st.SetPayload(kConflictPayload, absl::Cord("1"));
  return st;
}

bool IsRetryableConflict(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAborted &&
         status.GetPayload(kConflictPayload).has_value();
}

class Database::Metrics {
 public:
  Metrics(prometheus::Registry* r, absl::string_view db)
      : db_(db),
        duration_(prometheus::BuildHistogram()
                      .Name("sightline_sql_duration_seconds")
                      .Help("Time spent in SQL operations, by operation.")
                      .Register(*r)),
        errors_(prometheus::BuildCounter()
                    .Name("sightline_sql_errors_total")
                    .Help("SQL operations that failed, by operation and code.")
                    .Register(*r)),
        retries_(prometheus::BuildCounter()
                     .Name("sightline_sql_retries_total")
                     .Help("Write transactions retried after a conflict.")
                     .Register(*r)
                     .Add({{"db", std::string(db)}})),
        batch_(prometheus::BuildHistogram()
                   .Name("sightline_sql_commit_writes")
                   .Help("Write transactions committed together by one "
                         "commit (SQLite group commit).")
                   .Register(*r)
                   .Add({{"db", std::string(db)}},
                        prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16,
                                                                32, 64, 128})),
        write_(prometheus::BuildHistogram()
                   .Name("sightline_sql_write_seconds")
                   .Help("Time from asking for a write transaction to its "
                         "answer: the wait for the group commit, the commit "
                         "and any retries.")
                   .Register(*r)
                   .Add({{"db", std::string(db)}},
                        prometheus::Histogram::BucketBoundaries{
                            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                            0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

  void Observe(absl::string_view op, double seconds, const absl::Status& s) {
    Series& series = Get(op);
    series.duration->Observe(seconds);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound &&
        s.code() != absl::StatusCode::kInvalidArgument &&
        s.code() != absl::StatusCode::kFailedPrecondition &&
        s.code() != absl::StatusCode::kAborted &&
        s.code() != absl::StatusCode::kAlreadyExists &&
        s.code() != absl::StatusCode::kPermissionDenied) {
      errors_
          .Add({{"db", db_},
                {"op", std::string(op)},
                {"code", absl::StatusCodeToString(s.code())}})
          .Increment();
    }
  }
  void Retry() { retries_.Increment(); }
  void Batch(size_t writes) { batch_.Observe(static_cast<double>(writes)); }
  void Written(double seconds) { write_.Observe(seconds); }

 private:
  struct Series {
    prometheus::Histogram* duration;
  };
  Series& Get(absl::string_view op) {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(op);
    if (it != series_.end()) return it->second;
    Series s;
    s.duration =
        &duration_.Add({{"db", db_}, {"op", std::string(op)}},
                       prometheus::Histogram::BucketBoundaries{
                           0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                           0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10});
    return series_.emplace(std::string(op), s).first->second;
  }

  std::string db_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& retries_;
  prometheus::Histogram& batch_;
  prometheus::Histogram& write_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
};

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

absl::StatusOr<std::string> PostgresConnectString(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "postgresql://") &&
      !absl::ConsumePrefix(&rest, "postgres://")) {
    return absl::InvalidArgumentError(
        "db: a PostgreSQL URL starts with postgresql://");
  }
  std::vector<std::pair<std::string, std::string>> kv;
  absl::string_view query;
  size_t q = rest.find('?');
  if (q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  absl::string_view path;
  size_t slash = rest.find('/');
  if (slash != absl::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  size_t at = rest.rfind('@');
  std::string decoded;
  if (at != absl::string_view::npos) {
    absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (!PercentDecode(userinfo.substr(0, colon), &decoded)) {
      return absl::InvalidArgumentError("db: bad percent-encoding in user");
    }
    if (!decoded.empty()) kv.push_back({"user", decoded});
    if (colon != absl::string_view::npos) {
      if (!PercentDecode(userinfo.substr(colon + 1), &decoded)) {
        return absl::InvalidArgumentError(
            "db: bad percent-encoding in password");
      }
      kv.push_back({"password", decoded});
    }
  }
  if (!rest.empty()) {
    absl::string_view host = rest;
    absl::string_view port;
    if (absl::StartsWith(host, "[")) {
      size_t close = host.find(']');
      if (close == absl::string_view::npos)
        return absl::InvalidArgumentError("db: bad host");
      absl::string_view after = host.substr(close + 1);
      if (absl::ConsumePrefix(&after, ":")) port = after;
      host = host.substr(1, close - 1);
    } else {
      size_t colon = host.rfind(':');
      if (colon != absl::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
      }
    }
    int port_num = 0;
    if (!port.empty() && (!absl::SimpleAtoi(port, &port_num) || port_num <= 0 ||
                          port_num > 65535)) {
      return absl::InvalidArgumentError("db: bad port");
    }
    if (!PercentDecode(host, &decoded))
      return absl::InvalidArgumentError("db: bad host");
    if (!decoded.empty()) kv.push_back({"host", decoded});
    if (!port.empty()) kv.push_back({"port", std::string(port)});
  }
  if (!path.empty()) {
    if (!PercentDecode(path, &decoded))
      return absl::InvalidArgumentError("db: bad database name");
    kv.push_back({"dbname", decoded});
  }
  if (!query.empty()) {
    for (absl::string_view param :
         absl::StrSplit(query, '&', absl::SkipEmpty())) {
      size_t eq = param.find('=');
      if (eq == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("db: bad parameter ", param));
      }
      std::string key, value;
      if (!PercentDecode(param.substr(0, eq), &key) ||
          !PercentDecode(param.substr(eq + 1), &value)) {
        return absl::InvalidArgumentError(
            "db: bad percent-encoding in parameters");
      }
      for (char c : key) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
          return absl::InvalidArgumentError(
              absl::StrCat("db: bad parameter name ", key));
        }
      }
      kv.push_back({key, value});
    }
  }
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out.push_back(' ');
    absl::StrAppend(&out, k, "=", Quote(v));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const DatabaseOptions& options) {
  absl::string_view url = options.url;
  if (url.empty()) return absl::InvalidArgumentError("db: must not be empty");
  Dialect dialect;
  std::string connect, sqlite_path;
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    auto c = PostgresConnectString(url);
    if (!c.ok()) return c.status();
    dialect = Dialect::kPostgres;
    connect = absl::StrCat(*c, " connect_timeout=5");
  } else {
    absl::string_view path = url;
    if (absl::ConsumePrefix(&path, "sqlite://")) {
      // sqlite:///abs/path keeps its leading slash; sqlite://rel/path is
      // relative.
    } else if (absl::StrContains(path, "://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("db: unsupported scheme in ", url,
                       " (use postgresql://... or a SQLite file path)"));
    }
    if (path.empty())
      return absl::InvalidArgumentError("db: SQLite path is empty");
    for (char c : path) {
      if (c == ' ' || c == '"' || c == '\'') {
        return absl::InvalidArgumentError(
            "db: SQLite path must not contain spaces or quotes");
      }
    }
    auto made = MakeParentDirs(std::string(path));
    if (!made.ok()) return made;
    dialect = Dialect::kSqlite;
    sqlite_path = std::string(path);
    connect = absl::StrCat(
        "db=", path, " timeout=", absl::ToInt64Seconds(options.busy_timeout));
  }
  auto db = std::unique_ptr<Database>(new Database(dialect, connect, options));
  db->sqlite_path_ = std::move(sqlite_path);
  auto s = db->Connect();
  if (!s.ok()) return s;
  if (dialect == Dialect::kSqlite &&
      options.sqlite_checkpoint_interval > absl::ZeroDuration()) {
    Database* raw = db.get();
    db->checkpointer_ = std::thread([raw] { raw->CheckpointLoop(); });
  }
  return db;
}

Database::Database(Dialect dialect, std::string connect,
                   DatabaseOptions options)
    : dialect_(dialect),
      connect_(std::move(connect)),
      options_(std::move(options)) {
  if (options_.registry != nullptr) {
    metrics_ = std::make_unique<Metrics>(options_.registry, dialect_name());
  }
  if (options_.pool_size < 1) options_.pool_size = 1;
}

Database::~Database() {
  {
    absl::MutexLock lock(&checkpoint_mu_);
    stopping_ = true;
  }
  if (checkpointer_.joinable()) checkpointer_.join();
}

int64_t Database::checkpoints() const {
  absl::MutexLock lock(&checkpoint_mu_);
  return checkpoints_;
}

void Database::CheckpointLoop() {
  // The log starts over only when a commit begins with every frame already
  // copied and no reader left on it. Under steady writes some commit always
  // lands while a checkpoint runs, so past this length the checkpointer makes
  // such a moment: it catches up, then takes the writers' turn (they queue and
  // commit together afterwards) and restarts the log, with only the last
  // milliseconds of commits left to copy. Before, a RESTART checkpoint that
  // raced the writers stalled every commit for a hundred milliseconds or more.
  const int fd = ::open(sqlite_path_.c_str(), O_RDONLY | O_CLOEXEC);
  int restarted_at = -1;  // the log's length at the last restart
  for (;;) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(checkpoint_mu_) {
        return stopping_;
      };
      checkpoint_mu_.AwaitWithTimeout(absl::Condition(&stop),
                                      options_.sqlite_checkpoint_interval);
      if (stopping_) break;
    }
    int log = 0;
    auto checkpoint = [&](absl::string_view mode) {
      return Read(
          mode == "RESTART" ? "sqlite.checkpoint_restart" : "sqlite.checkpoint",
          [&](soci::session& sql) {
            int busy = 0, copied = 0;
            sql << absl::StrCat("PRAGMA wal_checkpoint(", mode, ")"),
                soci::into(busy), soci::into(log), soci::into(copied);
            return absl::OkStatus();
          });
    };
    auto st = checkpoint("PASSIVE");
    if (st.ok() && fd >= 0) WriteBack(fd);
    // Until a commit starts the log over, it keeps the length it had.
    if (st.ok() && log >= options_.sqlite_restart_frames &&
        log != restarted_at) {
      // Catch up until a pass finds little new, so that the writers' turn
      // below copies only a few milliseconds of commits.
      int copied_before = log;
      for (int pass = 0; st.ok() && pass < 4; ++pass) {
        st = checkpoint("PASSIVE");
        if (st.ok() && fd >= 0) WriteBack(fd);
        const int fresh = log - copied_before;
        copied_before = log;
        if (fresh < 512) break;
      }
      if (st.ok()) {
        TakeWritersTurn();
        st = checkpoint("RESTART");
        EndWritersTurn();
        restarted_at = log;
      }
    }
    if (!st.ok()) {
      telemetry::LogWarn("sqlite checkpoint failed",
                         {{"error", std::string(st.message())}});
      continue;
    }
    absl::MutexLock lock(&checkpoint_mu_);
    ++checkpoints_;
  }
  if (fd >= 0) ::close(fd);
}

void Database::TakeWritersTurn() {
  absl::MutexLock lock(&group_mu_);
  auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(group_mu_) {
    return !leading_;
  };
  group_mu_.Await(absl::Condition(&free));
  leading_ = true;
}

void Database::EndWritersTurn() {
  absl::MutexLock lock(&group_mu_);
  leading_ = false;
}

// A checkpoint copies pages into the database file through the page cache,
// where they wait for the kernel's background writeback. That starts only when
// the machine's dirty-page threshold is crossed (hundreds of MiB) and then
// queues all of it on the disk at once, and every commit's sync of the
// write-ahead log waits behind it for hundreds of milliseconds. Writing the
// file back here, a MiB at a time and waiting for each step, keeps the
// disk's queue short. (Durability does not depend on it: the log holds every
// commit until SQLite syncs the file itself.)
void Database::WriteBack(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return;
  constexpr off_t kStep = off_t{1} << 20;
  for (off_t off = 0; off < st.st_size; off += kStep) {
    ::sync_file_range(fd, off, kStep,
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                          SYNC_FILE_RANGE_WAIT_AFTER);
  }
}

size_t Database::queued_writes() const {
  absl::MutexLock lock(&group_mu_);
  return queue_.size();
}

absl::string_view Database::dialect_name() const {
  return dialect_ == Dialect::kSqlite ? "sqlite" : "postgresql";
}

absl::Status Database::Connect() {
  auto s = Acquire();
  if (!s.ok()) return s.status();
  auto session = std::move(*s);
  absl::Status st = absl::OkStatus();
  try {
    if (dialect_ == Dialect::kSqlite) {
      std::string mode;
      *session << "PRAGMA journal_mode=WAL", soci::into(mode);
      if (absl::AsciiStrToLower(mode) != "wal") {
        st = absl::FailedPreconditionError("db: SQLite refused WAL mode");
      }
    }
    if (st.ok()) st = EnsureCoreSchema(*session, dialect_);
    if (st.ok() && dialect_ == Dialect::kPostgres) {
      long long sb = 0, xb = 0;
      *session << "SELECT seq_base, xid_base FROM change_log_position "
                  "WHERE id = 1",
          soci::into(sb), soci::into(xb);
      seq_base_ = sb;
      xid_base_ = xb;
    }
  } catch (const soci::soci_error& e) {
    bool broken = false;
    st = MapError(e, &broken);
  }
  Release(std::move(session), !st.ok());
  return st;
}

absl::StatusOr<std::unique_ptr<soci::session>> Database::Acquire() {
  {
    absl::MutexLock lock(&pool_mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_mu_) {
      return !idle_.empty() || open_ < options_.pool_size;
    };
    pool_mu_.Await(absl::Condition(&available));
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
    ++open_;
  }
  auto s = Open();
  if (!s.ok()) {
    absl::MutexLock lock(&pool_mu_);
    --open_;
  }
  return s;
}

absl::StatusOr<std::unique_ptr<soci::session>> Database::Open() {
  try {
    std::unique_ptr<soci::session> s;
    if (dialect_ == Dialect::kSqlite) {
      s = std::make_unique<soci::session>(*soci::factory_sqlite3(), connect_);
      *s << "PRAGMA synchronous=FULL";
      if (options_.sqlite_checkpoint_interval > absl::ZeroDuration())
        *s << "PRAGMA wal_autocheckpoint=0";
      *s << absl::StrCat("PRAGMA busy_timeout=",
                         absl::ToInt64Milliseconds(options_.busy_timeout));
    } else {
      s = std::make_unique<soci::session>(*soci::factory_postgresql(),
                                          connect_);
    }
    return s;
  } catch (const soci::soci_error& e) {
    bool broken = false;
    absl::Status st = MapError(e, &broken);
    if (st.code() == absl::StatusCode::kInternal) {
      st = absl::UnavailableError(
          absl::StrCat("database unavailable: ", st.message()));
    }
    return st;
  }
}

absl::StatusOr<std::unique_ptr<soci::session>> Database::AcquireForWrite() {
  if (dialect_ != Dialect::kSqlite) return Acquire();
  if (writer_ != nullptr) return std::move(writer_);
  auto s = Open();
  if (!s.ok()) return s;
  if (options_.sqlite_writer_cache_bytes > 0) {
    try {
      **s << absl::StrCat("PRAGMA cache_size=-",
                          options_.sqlite_writer_cache_bytes / 1024);
    } catch (const soci::soci_error& e) {
      bool broken = false;
      return MapError(e, &broken);
    }
  }
  return s;
}

void Database::ReleaseFromWrite(std::unique_ptr<soci::session> s, bool broken) {
  if (dialect_ != Dialect::kSqlite) return Release(std::move(s), broken);
  if (!broken) writer_ = std::move(s);
}

absl::StatusOr<Database::PrewarmResult> Database::Prewarm(
    const std::vector<std::pair<std::string, std::string>>& structures,
    const std::function<bool()>& stop) {
  PrewarmResult result;
  if (dialect_ != Dialect::kSqlite) return result;
  auto quoted = [](absl::string_view name) {
    return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}),
                        "\"");
  };
  for (const auto& [table, index] : structures) {
    if (stop && stop()) return absl::CancelledError("prewarm stopped");
    const std::string scan = absl::StrCat(
        "SELECT COUNT(*) FROM ", quoted(table),
        index.empty() ? std::string(" NOT INDEXED")
                      : absl::StrCat(" INDEXED BY ", quoted(index)));
    // From the disk into the kernel's cache, writes going on meanwhile.
    absl::Status st = Read("sqlite.prewarm", [&](soci::session& sql) {
      long long rows = 0;
      sql << scan, soci::into(rows);
      return absl::OkStatus();
    });
    if (st.ok()) {
      TakeWritersTurn();
      const absl::Time held = absl::Now();
      auto session = AcquireForWrite();
      if (!session.ok()) {
        st = session.status();
      } else {
        bool broken = false;
        try {
          long long rows = 0;
          **session << scan, soci::into(rows);
          auto* backend = static_cast<soci::sqlite3_session_backend*>(
              (*session)->get_backend());
          int used = 0, highest = 0;
          if (sqlite3_db_status(backend->conn_, SQLITE_DBSTATUS_CACHE_USED,
                                &used, &highest, 0) == SQLITE_OK) {
            result.bytes = used;
          }
        } catch (const soci::soci_error& e) {
          st = MapError(e, &broken);
        }
        ReleaseFromWrite(std::move(*session), broken);
      }
      result.longest_wait = std::max(result.longest_wait, absl::Now() - held);
      EndWritersTurn();
    }
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat("prewarm ", table, " ", index,
                                                  ": ", st.message()));
    }
  }
  return result;
}

void Database::Release(std::unique_ptr<soci::session> s, bool broken) {
  absl::MutexLock lock(&pool_mu_);
  if (broken || s == nullptr) {
    --open_;
    return;
  }
  idle_.push_back(std::move(s));
}

absl::Status Database::Read(
    absl::string_view op, absl::FunctionRef<absl::Status(soci::session&)> fn) {
  auto start = std::chrono::steady_clock::now();
  auto session = Acquire();
  if (!session.ok()) return session.status();
  bool broken = false;
  absl::Status st;
  try {
    st = fn(**session);
  } catch (const soci::soci_error& e) {
    st = MapError(e, &broken);
  }
  if (!broken && dialect_ == Dialect::kPostgres &&
      !(*session)->is_connected()) {
    broken = true;
  }
  Release(std::move(*session), broken);
  if (metrics_ != nullptr) {
    metrics_->Observe(
        op,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count(),
        st);
  }
  if (st.code() == absl::StatusCode::kInternal) {
    telemetry::LogError("sql read failed",
                        {{"op", op}, {"error", st.message()}});
  }
  return st;
}

// Runs `fn` and then what the transaction owes before COMMIT (its change-log
// events and BeforeCommit hooks). `conflict` tells a lost race the database
// reported (worth running again) from an error `fn` returned, which is final
// even when it is ABORTED (an etag mismatch).
absl::Status Database::RunInTx(Tx& tx, absl::FunctionRef<absl::Status(Tx&)> fn,
                               bool* conflict, bool* broken) {
  absl::Status st;
  try {
    st = fn(tx);
    if (st.ok()) st = AppendEvents(tx);
    for (auto& hook : tx.before_commit_) {
      if (!st.ok()) break;
      st = hook(tx);
    }
    *conflict = IsRetryableConflict(st);
  } catch (const soci::soci_error& e) {
    st = MapError(e, broken);
    *conflict = IsRetryable(st);
  }
  return st;
}

absl::Status Database::Write(absl::string_view op,
                             absl::FunctionRef<absl::Status(Tx&)> fn,
                             int64_t* last_seq_out, Isolation isolation) {
  auto start = std::chrono::steady_clock::now();
  Pending mine{
      .fn = fn, .isolation = isolation, .st = absl::OkStatus(), .after = {}};
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) {
      if (metrics_ != nullptr) metrics_->Retry();
      // Jitter keeps writers that lost the same race from meeting again.
      thread_local absl::BitGen bitgen;
      int cap = 1 << std::min(attempt, 5);
      absl::SleepFor(
          absl::Microseconds(500 * cap + absl::Uniform(bitgen, 0, 1000 * cap)));
    }
    mine.st = absl::OkStatus();
    mine.conflict = false;
    mine.done = false;
    mine.visible = true;
    if (dialect_ == Dialect::kSqlite) {
      WriteGrouped(&mine);
    } else {
      RunBatch({&mine});
    }
    if (mine.st.ok() || !mine.conflict) break;
  }
  const absl::Status& st = mine.st;
  if (metrics_ != nullptr) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    metrics_->Observe(op, seconds, st);
    metrics_->Written(seconds);
  }
  if (!st.ok()) {
    if (st.code() == absl::StatusCode::kInternal) {
      telemetry::LogError("sql write failed",
                          {{"op", op}, {"error", st.message()}});
    }
    // ABORTED means a stale etag to clients. A conflict inside the database
    // that outlived every retry is contention: UNAVAILABLE, worth retrying.
    if (mine.conflict) {
      return absl::UnavailableError(
          absl::StrCat("database contention: the write lost ", kMaxAttempts,
                       " races in a row; retry it (", st.message(), ")"));
    }
    return st;
  }
  if (last_seq_out != nullptr) *last_seq_out = mine.last_seq;
  for (auto& f : mine.after) f();
  if (mine.last_seq > 0 && mine.visible) {
    std::vector<std::function<void(int64_t)>> listeners;
    {
      absl::MutexLock lock(&listeners_mu_);
      listeners = listeners_;
    }
    for (auto& l : listeners) l(mine.last_seq);
  }
  return absl::OkStatus();
}

// SQLite has one writer at a time and each commit waits for the disk. Writers
// that arrive while a commit is under way queue up; when it is done, one of
// them (the leader) runs every queued write in one transaction, each in its own
// savepoint, and commits them with one sync. Each write still succeeds or fails
// on its own, and none is acknowledged before the commit that holds it is on
// disk.
void Database::WriteGrouped(Pending* mine) {
  std::vector<Pending*> batch;
  {
    absl::MutexLock lock(&group_mu_);
    queue_.push_back(mine);
    auto turn = [this, mine]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(group_mu_) {
      return mine->done || !leading_;
    };
    group_mu_.Await(absl::Condition(&turn));
    if (mine->done) return;
    leading_ = true;
    batch.swap(queue_);
  }
  RunBatch(batch);
  if (metrics_ != nullptr) metrics_->Batch(batch.size());
  absl::MutexLock lock(&group_mu_);
  for (Pending* p : batch) p->done = true;
  leading_ = false;
}

void Database::RunBatch(const std::vector<Pending*>& batch) {
  auto session = AcquireForWrite();
  if (!session.ok()) {
    for (Pending* p : batch) p->st = session.status();
    return;
  }
  soci::session& sql = **session;
  const bool savepoints = batch.size() > 1;
  bool broken = false;
  bool in_tx = false;
  try {
    // PostgreSQL never groups writes: the batch is one write.
    if (dialect_ == Dialect::kSqlite) {
      sql << "BEGIN IMMEDIATE";
    } else if (batch.size() == 1 &&
               batch[0]->isolation == Isolation::kReadCommitted) {
      sql << "BEGIN ISOLATION LEVEL READ COMMITTED";
    } else {
      sql << "BEGIN ISOLATION LEVEL SERIALIZABLE";
    }
    in_tx = true;
    size_t ok = 0;
    for (Pending* p : batch) {
      if (savepoints) sql << "SAVEPOINT member";
      Tx tx(sql, dialect_,
            dialect_ == Dialect::kSqlite ? Isolation::kSerializable
                                         : p->isolation);
      p->st = RunInTx(tx, p->fn, &p->conflict, &broken);
      if (savepoints) {
        if (!p->st.ok()) sql << "ROLLBACK TO member";
        sql << "RELEASE member";
      }
      if (p->st.ok()) {
        ++ok;
        p->last_seq = tx.last_seq_;
        p->xid = tx.xid_;
        p->after = std::move(tx.after_commit_);
      }
    }
    if (ok > 0) {
      sql << "COMMIT";
      in_tx = false;
      for (Pending* p : batch) {
        // Committed, but if an older transaction is still open readers see
        // this one's changes only once it ends: the feed's poll will tell.
        if (p->st.ok() && p->xid != 0) p->visible = AwaitVisible(sql, p->xid);
      }
    }
  } catch (const soci::soci_error& e) {
    // The transaction as a whole failed: none of its writes happened.
    bool conflict = false;
    absl::Status st = MapError(e, &broken);
    conflict = IsRetryable(st);
    for (Pending* p : batch) {
      if (!p->st.ok()) continue;
      p->st = st;
      p->conflict = conflict;
      p->last_seq = 0;
      p->xid = 0;
      p->after.clear();
    }
  }
  if (in_tx) {
    try {
      sql << "ROLLBACK";
    } catch (const soci::soci_error&) {
      broken = true;
    }
  }
  if (!broken && dialect_ == Dialect::kPostgres && !sql.is_connected())
    broken = true;
  ReleaseFromWrite(std::move(*session), broken);
}

absl::Status Database::AppendEvents(Tx& tx) {
  if (tx.events_.empty()) return absl::OkStatus();
  soci::session& sql = tx.sql();
  const long long n = static_cast<long long>(tx.events_.size());
  long long first = 0;
  if (dialect_ == Dialect::kSqlite) {
    // Every SQLite write holds the write lock from BEGIN IMMEDIATE to COMMIT,
    // so the successor of the last entry is the next position, and position
    // order is commit order.
    first = LastSeq(sql) + 1;
  } else {
    // No shared counter: positions follow this transaction's id, which every
    // concurrent writer has its own of. Readers go only up to the oldest
    // transaction still open (SafeSeqBound), so an entry with a smaller
    // position that commits later is never passed over.
    if (n >= (1LL << kXidShift)) {
      return absl::InvalidArgumentError(
          absl::StrCat("a write may append at most ", (1LL << kXidShift) - 1,
                       " changes to the change log"));
    }
    long long xid = 0;
    sql << "SELECT pg_current_xact_id()::text::bigint", soci::into(xid);
    if (xid <= xid_base_) {
      return absl::InternalError(
          absl::StrCat("change log: transaction id ", xid,
                       " is not above the log's base ", xid_base_));
    }
    first = seq_base_ + ((xid - xid_base_) << kXidShift);
    // Several savepoints of one transaction are never grouped on PostgreSQL;
    // a second append in the same transaction continues after the first.
    if (tx.xid_ == xid && tx.last_seq_ >= first) first = tx.last_seq_ + 1;
    tx.xid_ = xid;
  }
  int64_t now = NowMicros();
  std::vector<long long> seqs;
  std::vector<long long> times;
  std::vector<std::string> entities, names, payloads, scopes;
  std::vector<int> kinds;
  seqs.reserve(n);
  for (long long i = 0; i < n; ++i) {
    auto& e = tx.events_[static_cast<size_t>(i)];
    seqs.push_back(first + i);
    times.push_back(now);
    entities.push_back(std::move(e.entity));
    names.push_back(std::move(e.name));
    kinds.push_back(e.kind);
    payloads.push_back(absl::Base64Escape(e.payload));
    scopes.push_back(std::move(e.scope));
  }
  sql << "INSERT INTO change_log (seq, commit_time, entity, name, kind, "
         "payload, scope) "
         "VALUES (:seq, :t, :entity, :name, :kind, :payload, :scope)",
      soci::use(seqs), soci::use(times), soci::use(entities), soci::use(names),
      soci::use(kinds), soci::use(payloads), soci::use(scopes);
  tx.last_seq_ = first + n - 1;
  tx.events_.clear();
  return absl::OkStatus();
}

std::string Database::SafeSeqBound() const {
  if (dialect_ == Dialect::kSqlite) return "9223372036854775807";
  // pg_snapshot_xmin: every transaction with a smaller id has ended, as seen
  // by this statement's snapshot; later ones get larger ids.
  return absl::StrCat(
      "(", seq_base_,
      " + ((pg_snapshot_xmin(pg_current_snapshot())::text::bigint - ",
      xid_base_, ") << ", kXidShift, "))");
}

bool Database::AwaitVisible(soci::session& sql, int64_t xid) {
  const absl::Time deadline = absl::Now() + options_.busy_timeout;
  absl::Duration pause = absl::Microseconds(50);
  for (;;) {
    long long xmin = 0;
    try {
      sql << "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
          soci::into(xmin);
    } catch (const soci::soci_error& e) {
      telemetry::LogWarn("change log: visibility check failed",
                         {{"error", std::string(e.what())}});
      return false;
    }
    if (xmin > xid) return true;
    if (absl::Now() > deadline) {
      telemetry::LogWarn(
          "change log: an older transaction is still open",
          {{"xid", xid}, {"oldest", static_cast<int64_t>(xmin)}});
      return false;
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(2));
  }
}

int64_t Database::LastSeq(soci::session& sql) const {
  long long seq = 0;
  if (dialect_ == Dialect::kSqlite) {
    sql << "SELECT COALESCE(MAX(seq), 0) FROM change_log", soci::into(seq);
  } else {
    // Pruning may have taken every entry below the bound: the head never
    // goes back.
    sql << absl::StrCat(
        "SELECT GREATEST((SELECT COALESCE(MAX(seq), 0) FROM change_log "
        "WHERE seq < ",
        SafeSeqBound(),
        "), (SELECT pruned_through FROM change_log_position WHERE id = "
        "1))"),
        soci::into(seq);
  }
  return seq;
}

absl::Status LockRowsInOrder(Tx& tx, absl::string_view table,
                             absl::string_view key_column,
                             const std::vector<std::string>& keys,
                             std::vector<std::string>* found) {
  soci::session& sql = tx.sql();
  const bool pg = tx.dialect() == Dialect::kPostgres;
  // The row's xmin: the 32-bit id of the transaction that wrote this version.
  const std::string stmt =
      absl::StrCat("SELECT ", pg ? "xmin::text::bigint" : "0", " FROM ", table,
                   " WHERE ", key_column, " = :k", pg ? " FOR UPDATE" : "");
  std::vector<long long> writers;
  if (found != nullptr) found->clear();
  for (const std::string& key : keys) {
    long long xmin = 0;
    soci::indicator ind = soci::i_null;
    sql << stmt, soci::use(key), soci::into(xmin, ind);
    if (!sql.got_data() || ind == soci::i_null) continue;
    writers.push_back(xmin);
    if (found != nullptr) found->push_back(key);
  }
  if (!pg || writers.empty()) return absl::OkStatus();
  // Locking gave this transaction its id, if it had none yet.
  long long mine = 0;
  sql << "SELECT pg_current_xact_id()::text::bigint", soci::into(mine);
  const uint32_t mine32 = static_cast<uint32_t>(mine & 0xffffffffLL);
  for (long long w : writers) {
    const uint32_t w32 = static_cast<uint32_t>(w);
    // 0..2 are special ids (2: frozen, older than every transaction); the
    // rest compare modulo 2^32, as PostgreSQL compares them.
    if (w32 < 3) continue;
    if (static_cast<int32_t>(w32 - mine32) > 0) {
      return RetryableConflict(absl::StrCat(
          "a row of ", table, " was last written by transaction ", w32,
          ", younger than this one (", mine32,
          "): this write's changes would be logged before that one's"));
    }
  }
  return absl::OkStatus();
}

void Database::AddCommitListener(std::function<void(int64_t)> listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.push_back(std::move(listener));
}

absl::Status Database::Exec(soci::session& sql, absl::string_view statements) {
  for (absl::string_view stmt : absl::StrSplit(statements, ";\n")) {
    stmt = absl::StripAsciiWhitespace(stmt);
    absl::ConsumeSuffix(&stmt, ";");
    if (stmt.empty()) continue;
    sql << std::string(stmt);
  }
  return absl::OkStatus();
}

}  // namespace sightline::storage
