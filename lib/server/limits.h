#pragma once

// Limits per caller: a token bucket per caller and method class (reads,
// writes, syncs) and a cap on the unary calls one caller has running at once,
// so that one noisy caller is refused (RESOURCE_EXHAUSTED, with when to retry)
// before it takes the workers, the queue or the database from everyone else.
//
// A caller is the verified principal's subject: unauthenticated calls are
// refused before any limit is consulted. The state of every caller seen lives
// in memory, bounded by --caller_limits_tracked: a caller with no call running
// whose buckets have refilled is forgotten without loss (a new entry starts
// full), and when that is not enough the callers idle the longest go.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sightline::server {

enum class MethodClass { kRead = 0, kWrite = 1, kSync = 2 };
inline constexpr int kMethodClasses = 3;

// "read", "write", "sync".
absl::string_view MethodClassName(MethodClass c);

// The class of a method, by the verb its name starts with ("GetGoal" ->
// read, "BatchCreateGoals" -> write, "SyncPeople" -> sync); nullopt for a verb
// not in the table (a test holds every RPC of every service to it).
std::optional<MethodClass> ClassifyMethod(absl::string_view method);

// A method's class for limiting: unknown verbs count as writes, the class
// with the tighter default.
MethodClass ClassOf(absl::string_view method);

struct RateLimit {
  double per_second = 0;  // 0: no rate limit for the class
  double burst = 0;       // bucket size: calls allowed at once after a pause
};

struct CallerLimitsConfig {
  std::array<RateLimit, kMethodClasses> rate = {};
  int max_concurrent_calls = 0;  // unary calls running per caller; 0: no cap
  int max_open_streams = 0;      // streams open per caller; 0: no cap
  int max_tracked = 100000;      // callers held in memory
  bool limit_services = false;   // also limit service tokens

  bool enabled() const;
};

enum class LimitReason { kRate, kConcurrency, kStreams };
inline constexpr int kLimitReasons = 3;
// "rate", "concurrency", "streams".
absl::string_view LimitReasonName(LimitReason r);

class CallerLimiter {
 private:
  struct Entry;
  struct Shard;

 public:
  using Clock = std::function<absl::Time()>;

  // Holds one of a caller's concurrent call slots (or open stream slots)
  // until released (or destroyed). An empty Permit holds nothing.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(); }
    void Release();
    bool holds() const { return count_ != nullptr; }

   private:
    friend class CallerLimiter;
    Permit(Shard* shard, int* count) : shard_(shard), count_(count) {}
    Shard* shard_ = nullptr;
    int* count_ = nullptr;  // the caller's count the slot was taken from
  };

  struct Decision {
    bool admitted = false;
    LimitReason reason = LimitReason::kRate;
    // Refused by rate: the time until the bucket holds a token again.
    absl::Duration retry_after = absl::ZeroDuration();
    // The limit that refused the call, for the message: calls per second
    // (rate), calls at once (concurrency) or streams open (streams).
    double limit = 0;
    Permit permit;  // admitted calls whose kind of slot is capped
  };

  explicit CallerLimiter(CallerLimitsConfig config, Clock clock = nullptr);
  ~CallerLimiter();
  CallerLimiter(const CallerLimiter&) = delete;
  CallerLimiter& operator=(const CallerLimiter&) = delete;

  const CallerLimitsConfig& config() const { return config_; }

  // What a call holds while it runs.
  enum class Slot { kNone, kUnary, kStream };

  // Takes a token of `cls` from the caller's bucket and one of its slots of
  // the kind asked for (unary calls; streams). A refusal takes nothing.
  Decision Admit(absl::string_view caller, MethodClass cls, Slot slot);
  // As above with a unary call's slot (`hold_slot`) or none.
  Decision Admit(absl::string_view caller, MethodClass cls, bool hold_slot) {
    return Admit(caller, cls, hold_slot ? Slot::kUnary : Slot::kNone);
  }

  // Callers held in memory (for tests and a gauge).
  size_t tracked() const;

 private:
  static constexpr int kShards = 16;

  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  struct Entry {
    std::array<Bucket, kMethodClasses> buckets;
    int running = 0;
    int streams = 0;
    absl::Time last_used;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::node_hash_map<std::string, Entry> callers ABSL_GUARDED_BY(mu);
  };

  void Refill(Bucket& b, MethodClass cls, absl::Time now) const;
  bool Full(Entry& e, absl::Time now) const;
  // Makes room in a shard that holds its share of --caller_limits_tracked.
  void Evict(Shard& s, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

  const CallerLimitsConfig config_;
  const Clock clock_;
  const size_t per_shard_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace sightline::server
