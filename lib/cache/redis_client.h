#pragma once

// A small pool of synchronous hiredis connections. Every call blocks for at
// most connect_timeout + command_timeout (name resolution aside: use an IP
// address or a name the resolver answers at once). A connection is opened on
// first use and dropped on any I/O error or timeout; the next call reconnects.
// Every failure is UNAVAILABLE with a short message starting with "redis".
//
// hiredis writes with write(2), so a peer that went away would raise SIGPIPE:
// constructing a client sets SIGPIPE to ignored if it still has its default
// action (as servers usually do anyway).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

struct redisContext;
struct redisReply;

namespace sightline::cache {

struct RedisConfig {
  // "redis://[[user]:password@]host[:port][/db]"; empty = no Redis.
  std::string url;
  absl::Duration connect_timeout = absl::Milliseconds(200);
  absl::Duration command_timeout = absl::Milliseconds(100);
  int pool_size = 8;

  // Filled from `url` by ParseRedisUrl (or by the client itself).
  std::string host;
  int port = 6379;
  int db = 0;
  std::string username;
  std::string password;
};

// INVALID_ARGUMENT naming "redis url" for anything but the form above.
absl::StatusOr<RedisConfig> ParseRedisUrl(absl::string_view url);

// One reply of Pipeline(). Redis error replies are kError (text in `str`), so
// that one failing command does not hide the others' answers.
struct RedisValue {
  enum class Kind { kNil, kString, kInteger, kStatus, kError, kArray };
  Kind kind = Kind::kNil;
  std::string str;
  int64_t integer = 0;
  std::vector<RedisValue> elements;
};

class RedisClient {  // thread-safe
 public:
  // Does not connect. A bad url makes every call UNAVAILABLE; use Create() to
  // reject it up front.
  explicit RedisClient(RedisConfig config);
  ~RedisClient();

  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Null (with OK) when config.url is empty: caching is off.
  // INVALID_ARGUMENT when the url is junk.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Create(
      RedisConfig config);

  absl::StatusOr<absl::optional<std::string>> Get(absl::string_view key);
  absl::StatusOr<std::vector<absl::optional<std::string>>> MGet(
      const std::vector<std::string>& keys);
  // Same, without copying the keys (the cache's hot path).
  absl::StatusOr<std::vector<absl::optional<std::string>>> MGetViews(
      absl::Span<const absl::string_view> keys);
  // SET key value PX ttl; ttl below 1 ms is INVALID_ARGUMENT.
  absl::Status Set(absl::string_view key, absl::string_view value,
                   absl::Duration ttl);
  // Stores `value` under `key` (SET PX ttl) only if every guard key still
  // holds the value given with it (an absent key reads as ""), atomically
  // (a Lua script). Returns whether it stored.
  absl::StatusOr<bool> SetIfUnchanged(
      absl::string_view key, absl::string_view value, absl::Duration ttl,
      absl::Span<const std::pair<absl::string_view, absl::string_view>> guards);
  // Any number of keys, sent as pipelined DELs of bounded size.
  absl::Status Del(const std::vector<std::string>& keys);
  absl::StatusOr<int64_t> Incr(absl::string_view key);
  absl::Status Ping();
  // Sends the commands in one round trip on one connection, in order.
  absl::StatusOr<std::vector<RedisValue>> Pipeline(
      absl::Span<const std::vector<std::string>> commands);

  const RedisConfig& config() const { return config_; }

 private:
  // Arguments of one command, pointing into storage the caller keeps alive.
  struct Command {
    absl::InlinedVector<const char*, 5> argv;
    absl::InlinedVector<size_t, 5> len;
    void Add(absl::string_view arg) {
      argv.push_back(arg.data());
      len.push_back(arg.size());
    }
  };
  using ReplyFn = absl::FunctionRef<absl::Status(size_t, const redisReply&)>;

  // Runs `commands` on one pooled connection and hands each reply to
  // `on_reply`; returns the first error.
  absl::Status Execute(absl::Span<const Command> commands, ReplyFn on_reply);
  absl::StatusOr<redisContext*> Connect(absl::Duration timeout);
  // Index of an idle slot, or -1 when none frees up before `deadline`.
  int Acquire(absl::Time deadline);
  void Release(int slot);
  // Closes every idle connection: after one I/O error the others (same
  // server) are probably dead too, and failing fast beats failing each once.
  void DropIdle();
  bool HasIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty();
  }

  RedisConfig config_;
  absl::Status config_error_;

  absl::Mutex mu_;
  // Owned by whoever leased the slot; idle ones are touched under mu_.
  std::vector<redisContext*> contexts_;
  std::vector<int> idle_ ABSL_GUARDED_BY(mu_);  // LIFO: reuse warm ones
};

}  // namespace sightline::cache
