#pragma once

// An in-process cache in front of Redis for the hottest reads, so that a warm
// read needs neither a network round trip nor a worker thread. Bounded, and
// guarded by an epoch: a value loaded before an invalidation is never stored
// after it (the same race the Redis layer guards against).
//
// Freshness: this process invalidates entries when it commits a change; the
// owner also clears the cache when the change log shows commits from other
// replicas, so another replica's change is seen within its poll interval.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace sightline::cache {

template <typename V>
class LocalCache {
 public:
  // capacity 0 disables the cache.
  explicit LocalCache(size_t capacity) : per_shard_(capacity / kShards) {}

  bool enabled() const { return per_shard_ > 0; }

  // Counts lookups as
  // sightline_cache_requests_total{cache=name,result=hit|miss}.
  void ExportMetrics(prometheus::Registry* registry, const std::string& name) {
    auto& family = prometheus::BuildCounter()
                       .Name("sightline_cache_requests_total")
                       .Help("Cache lookups by cache and result.")
                       .Register(*registry);
    hits_ = &family.Add({{"cache", name}, {"result", "hit"}});
    misses_ = &family.Add({{"cache", name}, {"result", "miss"}});
  }

  std::optional<V> Get(const std::string& key) const {
    if (!enabled()) return std::nullopt;
    const Shard& s = shard(key);
    absl::ReaderMutexLock lock(&s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      if (misses_ != nullptr) misses_->Increment();
      return std::nullopt;
    }
    if (hits_ != nullptr) hits_->Increment();
    return it->second;
  }

  // Read before loading the value that will be Put.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // Stores `value` unless an invalidation happened since `seen_epoch`.
  void Put(const std::string& key, V value, uint64_t seen_epoch) {
    if (!enabled()) return;
    Shard& s = shard(key);
    absl::MutexLock lock(&s.mu);
    if (epoch_.load(std::memory_order_acquire) != seen_epoch) return;
    if (s.map.size() >= per_shard_) s.map.clear();  // bounded, simply
    s.map.insert_or_assign(key, std::move(value));
  }

  void Invalidate(const std::vector<std::string>& keys) {
    // The epoch moves first, so a load racing with this cannot store after it.
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    for (const auto& k : keys) {
      Shard& s = shard(k);
      absl::MutexLock lock(&s.mu);
      s.map.erase(k);
    }
  }

  void Clear() {
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    for (Shard& s : shards_) {
      absl::MutexLock lock(&s.mu);
      s.map.clear();
    }
  }

  size_t size() const {
    size_t n = 0;
    for (const Shard& s : shards_) {
      absl::ReaderMutexLock lock(&s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, V> map ABSL_GUARDED_BY(mu);
  };
  Shard& shard(const std::string& key) {
    return shards_[absl::HashOf(key) % kShards];
  }
  const Shard& shard(const std::string& key) const {
    return shards_[absl::HashOf(key) % kShards];
  }

  const size_t per_shard_;
  prometheus::Counter* hits_ = nullptr;
  prometheus::Counter* misses_ = nullptr;
  std::atomic<uint64_t> epoch_{0};
  Shard shards_[kShards];
};

}  // namespace sightline::cache
