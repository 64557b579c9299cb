#pragma once

// Reading the change log that Database::Write appends to, and a feed that wakes
// Watch streams when it grows: at once for commits made by this process, and by
// polling for commits made by other replicas sharing the database.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/storage/database.h"

namespace sightline::storage {

struct ChangeRow {
  int64_t seq = 0;
  int64_t commit_time_micros = 0;
  std::string entity;
  std::string name;
  int kind = 0;
  std::string payload;  // decoded bytes
  std::string scope;
};

// Changes with seq > after_seq, in order, at most `limit`.
absl::StatusOr<std::vector<ChangeRow>> ReadChanges(Database& db,
                                                   int64_t after_seq,
                                                   int limit);
// The last committed sequence number (0 for an empty log).
absl::StatusOr<int64_t> HeadSeq(Database& db);
// The distinct non-empty scopes of the changes with after_seq < seq <=
// upto_seq: what an in-memory copy must re-read to catch up. OUT_OF_RANGE when
// part of that range was pruned already.
absl::StatusOr<std::vector<std::string>> ChangedScopes(Database& db,
                                                       int64_t after_seq,
                                                       int64_t upto_seq);
// The first resume point not lost to pruning, plus one: a resume point below
// OldestSeq() - 1 missed pruned changes (0 when the log is empty). On SQLite
// the smallest sequence number still kept (positions are consecutive).
absl::StatusOr<int64_t> OldestSeq(Database& db);
// Deletes changes committed before `cutoff`, always keeping the newest one.
absl::StatusOr<int64_t> PruneChanges(Database& db, absl::Time cutoff);

class ChangeFeed {
 public:
  ChangeFeed(Database* db, absl::Duration poll_interval);
  ~ChangeFeed();

  void Start();
  void Stop();

  int64_t head() const { return head_.load(); }

  // `fn` runs (on the feed's thread, or the committing thread) each time the
  // head advances. Keep it short: hand real work to an executor.
  int Subscribe(std::function<void(int64_t head)> fn);
  void Unsubscribe(int id);

  // Blocks until head > seq, the timeout passes, or the feed stops.
  int64_t WaitBeyond(int64_t seq, absl::Duration timeout);

 private:
  void Advance(int64_t seq);
  void PollLoop();

  Database* db_;
  absl::Duration poll_interval_;
  std::atomic<int64_t> head_{0};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int, std::function<void(int64_t)>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::thread poller_;
};

}  // namespace sightline::storage
