#pragma once

// Redis cache-aside for one namespace ("people", "goals", ...).
//
//   read:  Redis -> on a miss, the loader (storage) -> SET with a jittered TTL
//   write: commit to SQL, then Invalidate(changed keys)
//
// Redis is an optimisation, never a dependency: when it is slow, gone, or the
// breaker is open, calls are answered by the loader and nothing but metrics
// shows it. Keys are sl:{ns}:v{schema}:g{generation}:{key}; InvalidateAll bumps
// the generation stored at sl:{ns}:gen. sl:{ns}:epoch counts invalidations, so
// that a value loaded before an invalidation (on any replica) is not stored
// after it. Invalidations that could not reach Redis are remembered and applied
// before Redis serves this process another read.
//
// The generation and the epoch travel in the same MGET as the value, so a
// replica sees another's InvalidateAll on its next read, at no extra round
// trip.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "lib/cache/circuit_breaker.h"
#include "lib/cache/redis_client.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace sightline::cache {

struct CacheOptions {
  std::string ns;  // e.g. "people"; part of every key and the metric label
  int schema_version = 1;  // bump when the cached value format changes
  absl::Duration ttl = absl::Minutes(10);
  double ttl_jitter = 0.1;  // +-10% random jitter per SET
  BreakerConfig breaker;
  // Beyond this many remembered keys, remember "flush the namespace" instead.
  size_t max_pending_invalidations = 10000;
};

class Cache {
 public:
  using State = CircuitBreaker::State;
  using Loader = absl::FunctionRef<absl::StatusOr<std::string>()>;

  // `client` may be null: caching is off and every call goes to the loader.
  // `registry` may be null (no metrics); otherwise it must outlive the cache.
  Cache(std::unique_ptr<RedisClient> client, CacheOptions options,
        prometheus::Registry* registry);
  ~Cache();

  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Cache-aside with single-flight: concurrent misses on the same key run the
  // loader once and share its result. A loader error is returned as is and
  // not cached. Redis errors never reach the caller.
  absl::StatusOr<std::string> GetOrLoad(absl::string_view key, Loader loader);
  absl::StatusOr<std::string> GetOrLoad(absl::string_view key,
                                        absl::Duration ttl, Loader loader);

  // The same for a protobuf message M; `loader` returns absl::StatusOr<M>.
  template <typename M, typename LoaderFn>
  absl::StatusOr<M> GetOrLoadProto(absl::string_view key, LoaderFn&& loader) {
    return GetOrLoadProto<M>(key, ttl_, std::forward<LoaderFn>(loader));
  }
  template <typename M, typename LoaderFn>
  absl::StatusOr<M> GetOrLoadProto(absl::string_view key, absl::Duration ttl,
                                   LoaderFn&& loader);

  // Call after a commit with the keys it changed. Never fails from the
  // caller's view: what cannot reach Redis now is applied later.
  void Invalidate(const std::vector<std::string>& keys);
  // Orphans every key of this namespace (bumps the generation).
  void InvalidateAll();

  State breaker_state() const { return breaker_.state(); }
  // The Redis key `key` is read from now.
  std::string FullKey(absl::string_view key) const;
  // Callers waiting on the load of `key` now in flight (0 if none); tests.
  int WaitersForTesting(absl::string_view key) const;

 private:
  struct Metrics;
  struct Flight;
  // What a loaded value's SET must still find in Redis to be stored.
  struct StoreGuard {
    bool valid = false;
    std::string full_key;
    // As read with the miss; "" = absent, as SetIfUnchanged reads it.
    std::string epoch;
    std::string gen;
  };
  enum class Op { kGet, kSet, kDel, kGen };

  static std::unique_ptr<Metrics> MakeMetrics(prometheus::Registry* registry,
                                              const std::string& ns);

  std::string KeyFor(int64_t gen, absl::string_view key) const;
  absl::StatusOr<std::string> Load(absl::string_view key, absl::Duration ttl,
                                   Loader loader, StoreGuard guard);
  void Store(const StoreGuard& guard, absl::string_view value,
             absl::Duration ttl);
  absl::Duration Jittered(absl::Duration ttl) const;

  // Deletes `keys` (raw) in Redis, under the generation this process knows
  // and the one Redis holds now; bumps the epoch first.
  absl::Status DeleteKeys(const std::vector<std::string>& keys);
  absl::Status BumpGeneration();
  void AddPendingLocked(const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending_mu_);
  void UpdatePendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending_mu_);
  // Applies the remembered invalidations; true when none is left. With
  // `wait` false it gives up at once if another thread is flushing.
  bool FlushPending(bool wait);
  void Fail(Op op);

  std::unique_ptr<RedisClient> client_;
  const std::string ns_;
  const absl::Duration ttl_;
  const double jitter_;
  const size_t max_pending_;
  const std::string key_prefix_;      // sl:{ns}:v{schema}:g
  const std::string gen_key_;         // sl:{ns}:gen
  const std::string epoch_key_;       // sl:{ns}:epoch
  std::unique_ptr<Metrics> metrics_;  // before breaker_: its callback uses it
  CircuitBreaker breaker_;

  // The generation this process last saw in Redis.
  std::atomic<int64_t> gen_{0};
  // Bumped by every local invalidation: a load that saw it change is not
  // stored, and later callers do not join its flight.
  std::atomic<uint64_t> local_epoch_{0};

  mutable absl::Mutex flights_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_
      ABSL_GUARDED_BY(flights_mu_);

  // True while some invalidation has failed to reach Redis; reads bypass
  // Redis until FlushPending has applied it.
  std::atomic<bool> has_pending_{false};
  absl::Mutex flush_mu_;  // one flush at a time
  absl::Mutex pending_mu_;
  absl::flat_hash_set<std::string> pending_keys_ ABSL_GUARDED_BY(pending_mu_);
  bool pending_all_ ABSL_GUARDED_BY(pending_mu_) = false;
};

template <typename M, typename LoaderFn>
absl::StatusOr<M> Cache::GetOrLoadProto(absl::string_view key,
                                        absl::Duration ttl, LoaderFn&& loader) {
  // When this call ran the loader, return its message as is (no re-parse).
  absl::optional<M> loaded;
  absl::StatusOr<std::string> bytes =
      GetOrLoad(key, ttl, [&]() -> absl::StatusOr<std::string> {
        absl::StatusOr<M> m = loader();
        if (!m.ok()) return m.status();
        std::string out;
        if (!m->SerializeToString(&out)) {
          return absl::InternalError("cache: cannot serialize " +
                                     m->GetTypeName());
        }
        loaded = *std::move(m);
        return out;
      });
  if (!bytes.ok()) return bytes.status();
  if (loaded.has_value()) return *std::move(loaded);
  M m;
  if (m.ParseFromString(*bytes)) return m;
  // Cached bytes of another format (schema_version not bumped): drop them.
  Invalidate({std::string(key)});
  return loader();
}

}  // namespace sightline::cache
