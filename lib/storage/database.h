#pragma once

// SQL access for every service, on SQLite (embedded default) or PostgreSQL,
// through SOCI. Nothing above this layer sees an exception: SOCI errors become
// absl::Status here.
//
// Durability: on SQLite the database runs in WAL mode with synchronous=FULL, so
// Write() returns only after the commit is on disk. Concurrent writes on SQLite
// are committed together (group commit), each in its own savepoint. On
// PostgreSQL a write transaction is SERIALIZABLE unless the write asks for
// READ COMMITTED with its own row locks (Isolation), and is retried on
// serialization failures and deadlocks; writers do not share a counter row:
// change-log positions come from transaction ids (docs/changelog-postgres.md).

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace soci {
class session;
}
namespace prometheus {
class Registry;
}

namespace sightline::storage {

enum class Dialect { kSqlite, kPostgres };

// The isolation a write runs under on PostgreSQL (SQLite has one writer at a
// time: every write there is serial whatever it asks).
enum class Isolation {
  // SERIALIZABLE: correct for any body; the default for every write.
  kSerializable,
  // READ COMMITTED, for a body that locks (LockRowsInOrder) every row it
  // reads in order to write something derived from it, before reading it.
  // Rows read without a lock may have changed since; see
  // docs/changelog-postgres.md for the writes that qualify and why.
  kReadCommitted,
};

// A lost race the body of a write detected itself (a row it locked was last
// written by a younger transaction, a concurrent insert of the same key won).
// Write runs the body again, as for a serialization failure, and answers
// UNAVAILABLE if every attempt loses.
absl::Status RetryableConflict(absl::string_view message);
bool IsRetryableConflict(const absl::Status& status);

struct DatabaseOptions {
  // "postgresql://user:pass@host:port/db?sslmode=...", "sqlite:///abs/path.db",
  // "sqlite://relative/path.db", or a plain file path (SQLite).
  std::string url;
  int pool_size = 8;
  absl::Duration busy_timeout = absl::Seconds(10);
  // SQLite only: how often a background thread copies the write-ahead log
  // into the database (a PASSIVE checkpoint, which never blocks writers).
  // Left to SQLite, that copy runs inside whichever commit crosses 1,000
  // pages and stalls every writer queued behind it. Zero: SQLite's own
  // automatic checkpoints.
  absl::Duration sqlite_checkpoint_interval = absl::Seconds(1);
  // SQLite only: past this many frames (4 KiB each) in the write-ahead log the
  // checkpointer starts the log over (see CheckpointLoop).
  int sqlite_restart_frames = 65536;
  // SQLite only: every write runs on one connection of its own (the group
  // commit serializes writes anyway), and this is the size of its page cache
  // in bytes (0: SQLite's default, 2 MiB). A write reads the index pages it
  // inserts into; held in the process, they no longer depend on the kernel
  // keeping the file's pages cached. See also Prewarm.
  int64_t sqlite_writer_cache_bytes = 0;
  // For sightline_sql_* metrics; may be null.
  prometheus::Registry* registry = nullptr;
};

// One change to a resource, appended to the change log in the transaction that
// made it, for Watch streams.
struct ChangeEvent {
  std::string entity;   // "person", "team", "goal"...
  std::string name;     // resource name
  int kind = 0;         // service-defined (created/updated/deleted)
  std::string payload;  // serialized resource (binary-safe)
  std::string scope;    // service-defined, for filtering feeds (may be empty)
};

class Database;

// A write transaction. Created by Database::Write for each attempt.
class Tx {
 public:
  soci::session& sql() { return sql_; }
  Dialect dialect() const { return dialect_; }
  Isolation isolation() const { return isolation_; }
  // Appended to the change log atomically with the rest of the transaction.
  void Emit(ChangeEvent event) { events_.push_back(std::move(event)); }
  // Runs after a successful commit (cache invalidation, notifications).
  void AfterCommit(std::function<void()> fn) {
    after_commit_.push_back(std::move(fn));
  }
  // Runs inside the transaction after its events were appended (so last_seq()
  // is known) and before COMMIT; an error rolls everything back.
  void BeforeCommit(std::function<absl::Status(Tx&)> fn) {
    before_commit_.push_back(std::move(fn));
  }
  // The change-log sequence number of the last event of this transaction, once
  // committed (0 if it emitted none).
  int64_t last_seq() const { return last_seq_; }
  size_t pending_events() const { return events_.size(); }

 private:
  friend class Database;
  Tx(soci::session& sql, Dialect dialect, Isolation isolation)
      : sql_(sql), dialect_(dialect), isolation_(isolation) {}
  soci::session& sql_;
  Dialect dialect_;
  Isolation isolation_;
  std::vector<ChangeEvent> events_;
  std::vector<std::function<void()>> after_commit_;
  std::vector<std::function<absl::Status(Tx&)>> before_commit_;
  int64_t last_seq_ = 0;
  int64_t xid_ = 0;  // PostgreSQL: the transaction's id, once it emitted
};

class Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const DatabaseOptions& options);
  ~Database();

  Dialect dialect() const { return dialect_; }
  absl::string_view dialect_name() const;

  // Runs `fn` with a pooled session outside any write transaction. `op` names
  // the operation in metrics ("people.get"): a fixed string, never an id.
  absl::Status Read(absl::string_view op,
                    absl::FunctionRef<absl::Status(soci::session&)> fn);

  // Runs `fn` in a write transaction and commits when it returns OK; events it
  // emitted are appended to the change log in the same transaction. On
  // PostgreSQL a serialization failure retries `fn` from the start (so `fn`
  // must only touch the transaction and its own locals). After the commit, the
  // transaction's AfterCommit hooks and then the commit listeners run.
  // `last_seq`, when given, receives the change-log position of the last event
  // committed (0 when the transaction emitted none). On PostgreSQL such a
  // write returns once every older transaction has ended (or the busy timeout
  // passed), so that readers can already go up to `last_seq`. `isolation`
  // matters on PostgreSQL only (see Isolation).
  absl::Status Write(absl::string_view op,
                     absl::FunctionRef<absl::Status(Tx&)> fn,
                     int64_t* last_seq = nullptr,
                     Isolation isolation = Isolation::kSerializable);

  // Called with the last change-log sequence after every commit that emitted
  // events (used to wake Watch streams at once).
  void AddCommitListener(std::function<void(int64_t)> listener);

  // The last sequence number of the change log that readers may go up to,
  // read on `sql`; 0 if none. On SQLite the log's last entry. On PostgreSQL
  // the last entry below SafeSeqBound() (or the last pruned one): no change
  // with a smaller number can commit later.
  int64_t LastSeq(soci::session& sql) const;

  // A SQL expression, evaluated in the reading statement's snapshot: every
  // change-log entry with a smaller seq is final (committed and visible, or
  // never to exist). On PostgreSQL the position of the oldest transaction
  // still in flight; on SQLite (one writer, positions in commit order) no
  // bound.
  std::string SafeSeqBound() const;

  // SQLite: reads whole, into the writer's page cache, each of `structures`:
  // {table, index} pairs ("" as the index reads the table itself). Each is
  // first read on a reader's connection while writes go on (the file's pages
  // come from the disk into the kernel's cache), then on the writer's while
  // writes wait (so that none sees the cache half filled): writes wait for
  // copies in memory, not for the disk. Does nothing on PostgreSQL (its
  // buffer cache is shared by every connection).
  struct PrewarmResult {
    int64_t bytes = 0;            // the writer's cache afterwards
    absl::Duration longest_wait;  // the longest that writes were held
  };
  // `stop`, asked before each structure, ends it early with CANCELLED.
  absl::StatusOr<PrewarmResult> Prewarm(
      const std::vector<std::pair<std::string, std::string>>& structures,
      const std::function<bool()>& stop = nullptr);

  // Background checkpoints that ran so far (SQLite).
  int64_t checkpoints() const;
  // Writes waiting for the commit under way to finish (SQLite).
  size_t queued_writes() const;

  // Runs `statements` (separated by ";" at line ends) one by one; used by
  // migrations.
  static absl::Status Exec(soci::session& sql, absl::string_view statements);

 private:
  Database(Dialect dialect, std::string connect, DatabaseOptions options);
  absl::Status Connect();
  struct Lease;
  absl::StatusOr<std::unique_ptr<soci::session>> Acquire();
  void Release(std::unique_ptr<soci::session> s, bool broken);
  absl::StatusOr<std::unique_ptr<soci::session>> Open();
  // The connection of the write under way: the SQLite writer's, or one from
  // the pool. Only the leader of a group commit (or TakeWritersTurn's holder)
  // uses the SQLite writer.
  absl::StatusOr<std::unique_ptr<soci::session>> AcquireForWrite();
  void ReleaseFromWrite(std::unique_ptr<soci::session> s, bool broken);
  absl::Status AppendEvents(Tx& tx);
  // PostgreSQL: after the commit of transaction `xid`, waits until every older
  // transaction has ended, so that readers' safe bound has passed its changes.
  bool AwaitVisible(soci::session& sql, int64_t xid);

  class Metrics;
  Dialect dialect_;
  std::string connect_;
  DatabaseOptions options_;
  std::unique_ptr<Metrics> metrics_;
  // PostgreSQL: change_log_position's constants, read once at Connect.
  int64_t seq_base_ = 0;
  int64_t xid_base_ = 0;

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<soci::session>> idle_ ABSL_GUARDED_BY(pool_mu_);
  int open_ ABSL_GUARDED_BY(pool_mu_) = 0;
  // SQLite: the writer's connection while no write holds it (guarded by the
  // writers' turn, see above).
  std::unique_ptr<soci::session> writer_;

  // One write waiting for its commit (see WriteGrouped).
  struct Pending {
    absl::FunctionRef<absl::Status(Tx&)> fn;
    Isolation isolation = Isolation::kSerializable;
    absl::Status st;
    bool conflict = false;  // st is a lost race, worth another attempt
    bool done = false;
    int64_t last_seq = 0;
    int64_t xid = 0;
    bool visible = true;  // readers may already go up to last_seq
    std::vector<std::function<void()>> after;
  };
  absl::Status RunInTx(Tx& tx, absl::FunctionRef<absl::Status(Tx&)> fn,
                       bool* conflict, bool* broken);
  void WriteGrouped(Pending* mine);
  // Runs the writes in one transaction, each in a savepoint when there are
  // several, and commits those that succeeded.
  void RunBatch(const std::vector<Pending*>& batch);

  // SQLite has one writer at a time: writers queue here, and the leader
  // commits everything queued together (group commit).
  mutable absl::Mutex group_mu_;
  std::vector<Pending*> queue_ ABSL_GUARDED_BY(group_mu_);
  bool leading_ ABSL_GUARDED_BY(group_mu_) = false;

  absl::Mutex listeners_mu_;
  std::vector<std::function<void(int64_t)>> listeners_
      ABSL_GUARDED_BY(listeners_mu_);

  // The background checkpointer (SQLite, when an interval is set).
  void CheckpointLoop();
  static void WriteBack(int fd);
  // Keeps writers waiting (queued for the next group commit) meanwhile.
  void TakeWritersTurn();
  void EndWritersTurn();
  std::string sqlite_path_;
  mutable absl::Mutex checkpoint_mu_;
  bool stopping_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  int64_t checkpoints_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  std::thread checkpointer_;
};

// For READ COMMITTED writes: locks the rows of `table` whose `key_column` is
// one of `keys`, one row at a time in the order given (SELECT ... FOR UPDATE),
// so that writers that lock overlapping rows in one agreed order never
// deadlock; then checks that every locked row was last written by a
// transaction older than this one (else a RetryableConflict), so that this
// write's change-log positions come after those of every change it reads
// through these rows. `found`, when given, receives the keys of the rows that
// exist, in the order locked. On SQLite (one writer) it only reads which keys
// exist. `table` and `key_column` are code, never input.
absl::Status LockRowsInOrder(Tx& tx, absl::string_view table,
                             absl::string_view key_column,
                             const std::vector<std::string>& keys,
                             std::vector<std::string>* found = nullptr);

// Translates a postgresql:// URL into libpq's keyword=value form (SOCI cannot
// take URLs). INVALID_ARGUMENT naming "db" when malformed.
absl::StatusOr<std::string> PostgresConnectString(absl::string_view url);

// Current time in microseconds since the epoch, the unit every table uses.
int64_t NowMicros();

}  // namespace sightline::storage
