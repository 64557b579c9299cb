#include "lib/cache/cache.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sightline::cache {

struct Cache::Metrics {
  // All null when there is no registry.
  prometheus::Counter* hit = nullptr;
  prometheus::Counter* miss = nullptr;
  prometheus::Counter* error = nullptr;
  prometheus::Counter* bypass = nullptr;
  prometheus::Counter* err_get = nullptr;
  prometheus::Counter* err_set = nullptr;
  prometheus::Counter* err_del = nullptr;
  prometheus::Counter* err_gen = nullptr;
  prometheus::Counter* invalidations = nullptr;
  prometheus::Gauge* breaker_state = nullptr;
  prometheus::Gauge* pending = nullptr;
};

struct Cache::Flight {
  explicit Flight(uint64_t e) : epoch(e) {}
  const uint64_t epoch;
  int waiters = 0;  // guarded by flights_mu_
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::StatusOr<std::string> result ABSL_GUARDED_BY(mu);
};

namespace {

void Inc(prometheus::Counter* c, double by = 1) {
  if (c != nullptr) c->Increment(by);
}

// Keys per DEL command in a flush.
constexpr size_t kDelBatch = 256;

// Absent counters read as 0.
bool ParseCounter(const absl::optional<std::string>& v, int64_t* out) {
  if (!v.has_value()) {
    *out = 0;
    return true;
  }
  return absl::SimpleAtoi(*v, out);
}

}  // namespace

std::unique_ptr<Cache::Metrics> Cache::MakeMetrics(
    prometheus::Registry* registry, const std::string& ns) {
  auto m = std::make_unique<Cache::Metrics>();
  if (registry == nullptr) return m;
  auto& requests =
      prometheus::BuildCounter()
          .Name("sightline_cache_requests_total")
          .Help(
              "Cache reads by outcome: hit, miss (loaded), error (Redis "
              "failed, loaded), bypass (Redis skipped, loaded).")
          .Register(*registry);
  m->hit = &requests.Add({{"cache", ns}, {"result", "hit"}});
  m->miss = &requests.Add({{"cache", ns}, {"result", "miss"}});
  m->error = &requests.Add({{"cache", ns}, {"result", "error"}});
  m->bypass = &requests.Add({{"cache", ns}, {"result", "bypass"}});
  auto& errors = prometheus::BuildCounter()
                     .Name("sightline_cache_errors_total")
                     .Help("Failed Redis operations of the cache, by kind.")
                     .Register(*registry);
  m->err_get = &errors.Add({{"cache", ns}, {"op", "get"}});
  m->err_set = &errors.Add({{"cache", ns}, {"op", "set"}});
  m->err_del = &errors.Add({{"cache", ns}, {"op", "del"}});
  m->err_gen = &errors.Add({{"cache", ns}, {"op", "gen"}});
  m->breaker_state =
      &prometheus::BuildGauge()
           .Name("sightline_cache_breaker_state")
           .Help("Redis circuit breaker: 0 closed, 1 half-open, 2 open.")
           .Register(*registry)
           .Add({{"cache", ns}});
  m->invalidations =
      &prometheus::BuildCounter()
           .Name("sightline_cache_invalidations_total")
           .Help("Keys invalidated (a namespace flush counts one).")
           .Register(*registry)
           .Add({{"cache", ns}});
  m->pending = &prometheus::BuildGauge()
                    .Name("sightline_cache_pending_invalidations")
                    .Help(
                        "Invalidations waiting for Redis to come back "
                        "(saturates at the limit, then the namespace is "
                        "flushed instead).")
                    .Register(*registry)
                    .Add({{"cache", ns}});
  return m;
}

Cache::Cache(std::unique_ptr<RedisClient> client, CacheOptions options,
             prometheus::Registry* registry)
    : client_(std::move(client)),
      ns_(options.ns),
      ttl_(options.ttl),
      jitter_(std::clamp(options.ttl_jitter, 0.0, 0.9)),
      max_pending_(std::max<size_t>(1, options.max_pending_invalidations)),
      key_prefix_(
          absl::StrCat("sl:", options.ns, ":v", options.schema_version, ":g")),
      gen_key_(absl::StrCat("sl:", options.ns, ":gen")),
      epoch_key_(absl::StrCat("sl:", options.ns, ":epoch")),
      metrics_(MakeMetrics(registry, options.ns)),
      breaker_(std::move(options.breaker), [m = metrics_.get()](State s) {
        if (m->breaker_state != nullptr) {
          m->breaker_state->Set(static_cast<double>(s));
        }
      }) {}

Cache::~Cache() = default;

std::string Cache::KeyFor(int64_t gen, absl::string_view key) const {
  return absl::StrCat(key_prefix_, gen, ":", key);
}

std::string Cache::FullKey(absl::string_view key) const {
  return KeyFor(gen_.load(std::memory_order_relaxed), key);
}

void Cache::Fail(Op op) {
  breaker_.RecordFailure();
  switch (op) {
    case Op::kGet:
      Inc(metrics_->err_get);
      break;
    case Op::kSet:
      Inc(metrics_->err_set);
      break;
    case Op::kDel:
      Inc(metrics_->err_del);
      break;
    case Op::kGen:
      Inc(metrics_->err_gen);
      break;
  }
}

absl::StatusOr<std::string> Cache::GetOrLoad(absl::string_view key,
                                             Loader loader) {
  return GetOrLoad(key, ttl_, loader);
}

absl::StatusOr<std::string> Cache::GetOrLoad(absl::string_view key,
                                             absl::Duration ttl,
                                             Loader loader) {
  if (client_ == nullptr) {
    Inc(metrics_->bypass);
    return loader();
  }
  StoreGuard guard;
  if (!breaker_.Allow()) {
    Inc(metrics_->bypass);
  } else if (has_pending_.load(std::memory_order_acquire) &&
             !FlushPending(/*wait=*/false)) {
    // Redis may still hold values invalidated while it was unreachable.
    Inc(metrics_->bypass);
  } else {
    const int64_t gen = gen_.load(std::memory_order_relaxed);
    std::string full_key = KeyFor(gen, key);
    const absl::string_view keys[] = {full_key, epoch_key_, gen_key_};
    auto values = client_->MGetViews(keys);
    int64_t redis_gen = 0;
    if (!values.ok()) {
      Fail(Op::kGet);
      Inc(metrics_->error);
    } else if (!ParseCounter((*values)[2], &redis_gen)) {
      // Not a counter: someone else wrote the key. Do not cache on top.
      breaker_.RecordSuccess();
      Inc(metrics_->err_gen);
      Inc(metrics_->error);
    } else {
      breaker_.RecordSuccess();
      if (redis_gen == gen && (*values)[0].has_value()) {
        Inc(metrics_->hit);
        return *std::move((*values)[0]);
      }
      if (redis_gen != gen) {
        // A flush elsewhere: what we read belongs to the old generation.
        gen_.store(redis_gen, std::memory_order_relaxed);
        full_key = KeyFor(redis_gen, key);
      }
      Inc(metrics_->miss);
      guard.valid = true;
      guard.full_key = std::move(full_key);
      guard.epoch = std::move((*values)[1]).value_or("");
      guard.gen = std::move((*values)[2]).value_or("");
    }
  }
  return Load(key, ttl, loader, std::move(guard));
}

absl::StatusOr<std::string> Cache::Load(absl::string_view key,
                                        absl::Duration ttl, Loader loader,
                                        StoreGuard guard) {
  // Read before the loader starts: any invalidation after this point may
  // concern data the loader has already read.
  const uint64_t epoch = local_epoch_.load(std::memory_order_acquire);
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    absl::MutexLock lock(&flights_mu_);
    auto [it, inserted] = flights_.try_emplace(key);
    // A flight begun before an invalidation may return old data: start anew.
    if (!inserted && it->second->epoch == epoch) {
      flight = it->second;
      ++flight->waiters;
    } else {
      it->second = std::make_shared<Flight>(epoch);
      flight = it->second;
      leader = true;
    }
  }
  if (!leader) {
    flight->mu.LockWhen(absl::Condition(&flight->done));
    absl::StatusOr<std::string> result = flight->result;
    flight->mu.Unlock();
    return result;
  }

  // Publishes the result and retires the flight even if the loader throws
  // (SOCI does), so that waiters never hang on it.
  struct Retire {
    Cache* cache;
    absl::string_view key;
    Flight* flight;
    const absl::StatusOr<std::string>* result = nullptr;
    void Publish() {
      absl::MutexLock lock(&flight->mu);
      if (flight->done) return;
      flight->result = result != nullptr
                           ? *result
                           : absl::StatusOr<std::string>(absl::InternalError(
                                 "cache: loader did not return"));
      flight->done = true;
    }
    ~Retire() {
      Publish();
      absl::MutexLock lock(&cache->flights_mu_);
      auto it = cache->flights_.find(key);
      if (it != cache->flights_.end() && it->second.get() == flight) {
        cache->flights_.erase(it);
      }
    }
  } retire{this, key, flight.get()};

  absl::StatusOr<std::string> result = loader();
  retire.result = &result;
  // Waiters go now; the flight stays registered until the SET is done, so
  // that callers arriving meanwhile take this result instead of loading.
  retire.Publish();
  if (result.ok() && guard.valid && ttl > absl::ZeroDuration() &&
      local_epoch_.load(std::memory_order_acquire) == epoch &&
      breaker_.state() == State::kClosed) {
    Store(guard, *result, ttl);
  }
  return result;
}

absl::Duration Cache::Jittered(absl::Duration ttl) const {
  if (jitter_ <= 0) return ttl;
  thread_local absl::InsecureBitGen gen;
  const double f =
      1.0 + absl::Uniform(absl::IntervalClosed, gen, -jitter_, jitter_);
  return std::max(ttl * f, absl::Milliseconds(1));
}

void Cache::Store(const StoreGuard& guard, absl::string_view value,
                  absl::Duration ttl) {
  // Stored only if no invalidation or flush (from any replica) happened in
  // Redis since the miss was read.
  const std::pair<absl::string_view, absl::string_view> guards[] = {
      {epoch_key_, guard.epoch},
      {gen_key_, guard.gen},
  };
  auto stored =
      client_->SetIfUnchanged(guard.full_key, value, Jittered(ttl), guards);
  if (!stored.ok()) {
    Fail(Op::kSet);
    return;
  }
  breaker_.RecordSuccess();
}

absl::Status Cache::DeleteKeys(const std::vector<std::string>& keys) {
  const int64_t gen = gen_.load(std::memory_order_relaxed);
  // The epoch goes up before the DELs, so a loader that read the old epoch
  // cannot store after them.
  std::vector<std::vector<std::string>> commands;
  commands.push_back({"INCR", epoch_key_});
  commands.push_back({"GET", gen_key_});
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i % kDelBatch == 0) commands.push_back({"DEL"});
    commands.back().push_back(KeyFor(gen, keys[i]));
  }
  auto replies = client_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const RedisValue& r : *replies) {
    if (r.kind == RedisValue::Kind::kError) {
      return absl::UnavailableError("redis: " + r.str);
    }
  }
  const RedisValue& g = (*replies)[1];
  int64_t current = 0;
  if (g.kind == RedisValue::Kind::kString &&
      !absl::SimpleAtoi(g.str, &current)) {
    return absl::UnavailableError("redis: generation is not a number");
  }
  if (current != gen) {
    // Another replica flushed: the keys readers use now are under `current`.
    std::vector<std::string> fresh;
    fresh.reserve(keys.size());
    for (const std::string& k : keys) fresh.push_back(KeyFor(current, k));
    absl::Status s = client_->Del(fresh);
    if (!s.ok()) return s;
    gen_.store(current, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

absl::Status Cache::BumpGeneration() {
  const std::vector<std::vector<std::string>> commands = {{"INCR", epoch_key_},
                                                          {"INCR", gen_key_}};
  auto replies = client_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (const RedisValue& r : *replies) {
    if (r.kind != RedisValue::Kind::kInteger) {
      return absl::UnavailableError("redis: " + r.str);
    }
  }
  gen_.store((*replies)[1].integer, std::memory_order_relaxed);
  return absl::OkStatus();
}

void Cache::AddPendingLocked(const std::string& key) {
  if (pending_all_) return;  // a flush covers it
  pending_keys_.insert(key);
  if (pending_keys_.size() > max_pending_) {
    pending_keys_.clear();
    pending_all_ = true;
  }
}

void Cache::UpdatePendingLocked() {
  const bool any = pending_all_ || !pending_keys_.empty();
  has_pending_.store(any, std::memory_order_release);
  if (metrics_->pending != nullptr) {
    metrics_->pending->Set(static_cast<double>(
        pending_all_ ? max_pending_ : pending_keys_.size()));
  }
}

bool Cache::FlushPending(bool wait) {
  if (wait) {
    flush_mu_.Lock();
  } else if (!flush_mu_.TryLock()) {
    return false;
  }
  if (breaker_.state() == State::kOpen) {
    // It opened while we waited for the previous flush: do not wait again.
    flush_mu_.Unlock();
    return false;
  }
  bool clean = false;
  // Bounded: invalidations keep arriving while we flush.
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> keys;
    bool all = false;
    {
      absl::MutexLock lock(&pending_mu_);
      if (!pending_all_ && pending_keys_.empty()) {
        UpdatePendingLocked();
        clean = true;
        break;
      }
      all = pending_all_;
      if (!all) keys.assign(pending_keys_.begin(), pending_keys_.end());
      pending_keys_.clear();
      pending_all_ = false;
      // has_pending_ stays true until the flush has succeeded.
    }
    absl::Status s = all ? BumpGeneration() : DeleteKeys(keys);
    if (!s.ok()) {
      Fail(all ? Op::kGen : Op::kDel);
      absl::MutexLock lock(&pending_mu_);
      if (all) {
        pending_all_ = true;
        pending_keys_.clear();
      } else {
        for (const std::string& k : keys) AddPendingLocked(k);
      }
      UpdatePendingLocked();
      break;
    }
    breaker_.RecordSuccess();
  }
  flush_mu_.Unlock();
  return clean;
}

void Cache::Invalidate(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  local_epoch_.fetch_add(1, std::memory_order_acq_rel);
  Inc(metrics_->invalidations, static_cast<double>(keys.size()));
  if (client_ == nullptr) return;
  bool tried = false;
  // Normal case: straight to Redis. Concurrent reads are not held up (they
  // are concurrent with the write, so the old value is still a valid answer).
  if (!has_pending_.load(std::memory_order_acquire) && breaker_.Allow()) {
    tried = true;
    absl::Status s = DeleteKeys(keys);
    if (s.ok()) {
      breaker_.RecordSuccess();
      return;
    }
    Fail(Op::kDel);
  }
  {
    absl::MutexLock lock(&pending_mu_);
    for (const std::string& k : keys) AddPendingLocked(k);
    UpdatePendingLocked();
  }
  // Right after a failure another attempt would only wait again.
  if (!tried && breaker_.Allow()) {
    FlushPending(/*wait=*/true);
  }
}

void Cache::InvalidateAll() {
  local_epoch_.fetch_add(1, std::memory_order_acq_rel);
  Inc(metrics_->invalidations);
  if (client_ == nullptr) return;
  bool tried = false;
  if (!has_pending_.load(std::memory_order_acquire) && breaker_.Allow()) {
    tried = true;
    absl::Status s = BumpGeneration();
    if (s.ok()) {
      breaker_.RecordSuccess();
      return;
    }
    Fail(Op::kGen);
  }
  {
    absl::MutexLock lock(&pending_mu_);
    pending_all_ = true;
    pending_keys_.clear();
    UpdatePendingLocked();
  }
  if (!tried && breaker_.Allow()) {
    FlushPending(/*wait=*/true);
  }
}

int Cache::WaitersForTesting(absl::string_view key) const {
  absl::MutexLock lock(&flights_mu_);
  auto it = flights_.find(key);
  return it == flights_.end() ? 0 : it->second->waiters;
}

}  // namespace sightline::cache
