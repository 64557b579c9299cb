#include "lib/storage/change_log.h"

#include <soci/soci.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/telemetry/log.h"

namespace sightline::storage {

absl::StatusOr<std::vector<ChangeRow>> ReadChanges(Database& db,
                                                   int64_t after_seq,
                                                   int limit) {
  std::vector<ChangeRow> out;
  auto st = db.Read("change_log.read", [&](soci::session& sql) {
    ChangeRow row;
    long long seq = 0, t = 0;
    std::string payload;
    long long after = after_seq;
    // Only up to the safe bound: on PostgreSQL an entry past it may still be
    // joined by one with a smaller number from a transaction in flight.
    const std::string query = absl::StrCat(
        "SELECT seq, commit_time, entity, name, kind, payload, scope "
        "FROM change_log WHERE seq > :after AND seq < ",
        db.SafeSeqBound(), " ORDER BY seq LIMIT :lim");
    soci::statement stmt =
        (sql.prepare << query, soci::use(after), soci::use(limit),
         soci::into(seq), soci::into(t), soci::into(row.entity),
         soci::into(row.name), soci::into(row.kind), soci::into(payload),
         soci::into(row.scope));
    stmt.execute();
    while (stmt.fetch()) {
      row.seq = seq;
      row.commit_time_micros = t;
      if (!absl::Base64Unescape(payload, &row.payload)) {
        return absl::DataLossError("change_log: payload is not base64");
      }
      out.push_back(row);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> HeadSeq(Database& db) {
  int64_t seq = 0;
  auto st = db.Read("change_log.head", [&](soci::session& sql) {
    seq = db.LastSeq(sql);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return seq;
}

absl::StatusOr<std::vector<std::string>> ChangedScopes(Database& db,
                                                       int64_t after_seq,
                                                       int64_t upto_seq) {
  std::vector<std::string> out;
  if (upto_seq <= after_seq) return out;
  auto st = db.Read("change_log.scopes", [&](soci::session& sql) {
    long long after = after_seq, upto = upto_seq, oldest = 0;
    soci::indicator ind = soci::i_ok;
    bool pruned;
    if (db.dialect() == Dialect::kSqlite) {
      // Positions are consecutive: a missing successor was pruned.
      sql << "SELECT MIN(seq) FROM change_log", soci::into(oldest, ind);
      pruned = ind == soci::i_null || oldest > after + 1;
    } else {
      sql << "SELECT pruned_through FROM change_log_position WHERE id = 1",
          soci::into(oldest);
      pruned = after < oldest;
    }
    if (pruned) {
      return absl::OutOfRangeError(
          absl::StrCat("changes after ", after, " were pruned"));
    }
    std::string scope;
    soci::statement stmt =
        (sql.prepare << "SELECT DISTINCT scope FROM change_log WHERE seq > "
                        ":after AND seq <= :upto AND scope <> ''",
         soci::use(after), soci::use(upto), soci::into(scope));
    stmt.execute();
    while (stmt.fetch()) out.push_back(scope);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> OldestSeq(Database& db) {
  long long seq = 0;
  auto st = db.Read("change_log.oldest", [&](soci::session& sql) {
    if (db.dialect() == Dialect::kPostgres) {
      // Positions are sparse there: what counts is the last one pruned.
      sql << "SELECT pruned_through + 1 FROM change_log_position WHERE id = 1",
          soci::into(seq);
      return absl::OkStatus();
    }
    soci::indicator ind = soci::i_ok;
    sql << "SELECT MIN(seq) FROM change_log", soci::into(seq, ind);
    if (ind == soci::i_null) seq = 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return seq;
}

absl::StatusOr<int64_t> PruneChanges(Database& db, absl::Time cutoff) {
  long long deleted = 0;
  auto st =
      db.Write("change_log.prune", [&](Tx& tx) {
        long long micros = absl::ToUnixMicros(cutoff);
        if (tx.dialect() == Dialect::kPostgres) {
          // Only final entries (below the safe bound), and the highest one
          // pruned is kept: resume points below it are out of range.
          const std::string bound = db.SafeSeqBound();
          tx.sql() << absl::StrCat(
              "WITH keep AS (SELECT MAX(seq) AS seq FROM "
              "change_log WHERE seq < ",
              bound,
              "), gone AS (DELETE FROM change_log WHERE "
              "commit_time < :c AND seq < (SELECT seq FROM keep) "
              "RETURNING seq), marked AS (UPDATE "
              "change_log_position SET pruned_through = "
              "GREATEST(pruned_through, (SELECT COALESCE(MAX(seq), "
              "0) FROM gone)) WHERE id = 1) "
              "SELECT COUNT(*) FROM gone"),
              soci::use(micros), soci::into(deleted);
          return absl::OkStatus();
        }
        soci::statement stmt =
            (tx.sql().prepare
                 << "DELETE FROM change_log WHERE commit_time < :c AND seq < "
                    "(SELECT MAX(seq) FROM change_log)",
             soci::use(micros));
        stmt.execute(true);
        deleted = stmt.get_affected_rows();
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return deleted;
}

ChangeFeed::ChangeFeed(Database* db, absl::Duration poll_interval)
    : db_(db), poll_interval_(poll_interval) {
  db_->AddCommitListener([this](int64_t seq) { Advance(seq); });
}

ChangeFeed::~ChangeFeed() { Stop(); }

void ChangeFeed::Start() {
  auto head = HeadSeq(*db_);
  if (head.ok()) head_.store(*head);
  poller_ = std::thread([this] { PollLoop(); });
}

void ChangeFeed::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (poller_.joinable()) poller_.join();
}

int ChangeFeed::Subscribe(std::function<void(int64_t)> fn) {
  absl::MutexLock lock(&mu_);
  int id = next_id_++;
  subscribers_.emplace(id, std::move(fn));
  return id;
}

void ChangeFeed::Unsubscribe(int id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

void ChangeFeed::Advance(int64_t seq) {
  int64_t cur = head_.load();
  while (seq > cur && !head_.compare_exchange_weak(cur, seq)) {
  }
  if (seq <= cur) return;
  // Subscribers are notified under the lock so that Unsubscribe() returning
  // means no notification is running or will run for that id.
  absl::MutexLock lock(&mu_);
  for (auto& [id, fn] : subscribers_) fn(seq);
}

int64_t ChangeFeed::WaitBeyond(int64_t seq, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || head_.load() > seq;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return head_.load();
}

void ChangeFeed::PollLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), poll_interval_)) return;
    }
    auto head = HeadSeq(*db_);
    if (head.ok()) {
      Advance(*head);
    } else {
      telemetry::LogWarn("change feed poll failed",
                         {{"error", head.status().message()}});
    }
  }
}

}  // namespace sightline::storage
