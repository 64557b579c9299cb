#pragma once

// Answers of another service kept for a fixed time, keyed by string: for
// checks whose answer may be a little old (a person exists, a caller reads a
// goal), unlike LocalCache, whose entries live until a commit invalidates them.

#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sightline::cache {

// Answers kept for `ttl`, keyed by string; bounded, simply (cleared when full).
template <typename V>
class TtlCache {
 public:
  explicit TtlCache(absl::Duration ttl) : ttl_(ttl) {}
  std::optional<V> Get(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || absl::Now() >= it->second.second)
      return std::nullopt;
    return it->second.first;
  }
  void Put(const std::string& key, V value) {
    absl::MutexLock lock(&mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key] = {std::move(value), absl::Now() + ttl_};
  }

 private:
  static constexpr size_t kMaxEntries = 100000;
  absl::Duration ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::pair<V, absl::Time>> entries_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sightline::cache
