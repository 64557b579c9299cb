#include "lib/cache/cache.h"

#include <google/protobuf/wrappers.pb.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"

namespace sightline::cache {
namespace {

using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;
using State = Cache::State;

class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

// The value of one series, or -1 if it does not exist.
double Metric(prometheus::Registry& registry, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      std::map<std::string, std::string> got;
      for (const auto& l : m.label) got[l.name] = l.value;
      if (got != labels) continue;
      return family.type == prometheus::MetricType::Counter ? m.counter.value
                                                            : m.gauge.value;
    }
  }
  return -1;
}

// A loader that counts its calls and returns `value`.
struct CountingLoader {
  std::atomic<int> calls{0};
  std::string value;
  explicit CountingLoader(std::string v) : value(std::move(v)) {}
  absl::StatusOr<std::string> operator()() {
    calls.fetch_add(1);
    return value;
  }
};

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = sightline::testing::MakeTempDir("cache");
    redis_ = std::make_unique<sightline::testing::RedisServer>(dir_);
    ASSERT_THAT(redis_->Start(), IsOk());
    RedisConfig raw;
    raw.url = redis_->url();
    raw.command_timeout = absl::Seconds(5);
    raw_ = std::make_unique<RedisClient>(raw);
  }
  void TearDown() override {
    caches_.clear();
    raw_.reset();
    redis_.reset();
    sightline::testing::RemoveTree(dir_);
  }

  CacheOptions Options(absl::string_view ns = "people") {
    CacheOptions o;
    o.ns = std::string(ns);
    o.breaker.clock = [this] { return clock_.Now(); };
    return o;
  }
  Cache& Make(CacheOptions options) {
    RedisConfig config;
    config.url = redis_->url();
    config.command_timeout = absl::Milliseconds(100);
    config.connect_timeout = absl::Milliseconds(200);
    caches_.push_back(std::make_unique<Cache>(
        std::make_unique<RedisClient>(config), std::move(options), &registry_));
    return *caches_.back();
  }
  Cache& Make() { return Make(Options()); }

  absl::optional<std::string> RawGet(const std::string& key) {
    auto v = raw_->Get(key);
    EXPECT_THAT(v, IsOk());
    return v.ok() ? *v : absl::nullopt;
  }
  int64_t Pttl(const std::string& key) {
    auto r = raw_->Pipeline({{"PTTL", key}});
    EXPECT_THAT(r, IsOk());
    return r.ok() ? (*r)[0].integer : -100;
  }
  double Requests(absl::string_view result, absl::string_view ns = "people") {
    return Metric(
        registry_, "sightline_cache_requests_total",
        {{"cache", std::string(ns)}, {"result", std::string(result)}});
  }
  double Errors(absl::string_view op, absl::string_view ns = "people") {
    return Metric(registry_, "sightline_cache_errors_total",
                  {{"cache", std::string(ns)}, {"op", std::string(op)}});
  }
  double Pending(absl::string_view ns = "people") {
    return Metric(registry_, "sightline_cache_pending_invalidations",
                  {{"cache", std::string(ns)}});
  }
  double BreakerGauge(absl::string_view ns = "people") {
    return Metric(registry_, "sightline_cache_breaker_state",
                  {{"cache", std::string(ns)}});
  }
  // Opens the breaker with failing reads (Redis stopped or paused); every
  // read still answers from its loader.
  void FailUntilOpen(Cache& cache) {
    for (int i = 0; i < 10 && cache.breaker_state() != State::kOpen; ++i) {
      CountingLoader l("fallback");
      auto v = cache.GetOrLoad(absl::StrCat("other-", i), std::ref(l));
      ASSERT_THAT(v, IsOk());
      EXPECT_EQ(*v, "fallback");
      EXPECT_EQ(l.calls.load(), 1);
    }
    ASSERT_EQ(cache.breaker_state(), State::kOpen);
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  std::string dir_;
  std::unique_ptr<sightline::testing::RedisServer> redis_;
  std::unique_ptr<RedisClient> raw_;
  std::vector<std::unique_ptr<Cache>> caches_;
};

TEST_F(CacheTest, MissLoadsThenHitServesFromRedis) {
  Cache& cache = Make();
  CountingLoader loader("alice");
  auto first = cache.GetOrLoad("p1", std::ref(loader));
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(*first, "alice");
  auto second = cache.GetOrLoad("p1", std::ref(loader));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(*second, "alice");
  EXPECT_EQ(loader.calls.load(), 1);
  EXPECT_EQ(cache.FullKey("p1"), "sl:people:v1:g0:p1");
  EXPECT_THAT(RawGet("sl:people:v1:g0:p1"), Optional(std::string("alice")));
  EXPECT_EQ(Requests("miss"), 1);
  EXPECT_EQ(Requests("hit"), 1);
  EXPECT_EQ(Requests("error"), 0);
  EXPECT_EQ(Requests("bypass"), 0);
}

TEST_F(CacheTest, ValueWithNulBytesRoundTrips) {
  Cache& cache = Make();
  const std::string value("\0pro\0to\xff", 8);
  CountingLoader loader(value);
  ASSERT_THAT(cache.GetOrLoad("bin", std::ref(loader)), IsOk());
  auto hit = cache.GetOrLoad("bin", std::ref(loader));
  ASSERT_THAT(hit, IsOk());
  EXPECT_EQ(*hit, value);
  EXPECT_EQ(hit->size(), 8u);
  EXPECT_EQ(loader.calls.load(), 1);
}

TEST_F(CacheTest, ConcurrentMissesRunTheLoaderOnce) {
  Cache& cache = Make();
  constexpr int kThreads = 8;
  std::atomic<int> calls{0};
  auto loader = [&]() -> absl::StatusOr<std::string> {
    calls.fetch_add(1);
    // Hold the load until every other caller waits on it (bounded).
    for (int i = 0; i < 1000 && cache.WaitersForTesting("hot") < kThreads - 1;
         ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return std::string("shared");
  };
  std::vector<absl::StatusOr<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(
        [&, t] { results[t] = cache.GetOrLoad("hot", std::ref(loader)); });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(calls.load(), 1);
  for (const auto& r : results) {
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(*r, "shared");
  }
  EXPECT_EQ(cache.WaitersForTesting("hot"), 0);  // flight retired
  EXPECT_EQ(Requests("miss"), kThreads);
}

TEST_F(CacheTest, ConcurrentWaitersShareALoaderError) {
  Cache& cache = Make();
  std::atomic<int> calls{0};
  auto loader = [&]() -> absl::StatusOr<std::string> {
    calls.fetch_add(1);
    for (int i = 0; i < 1000 && cache.WaitersForTesting("gone") < 1; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::NotFoundError("person gone");
  };
  absl::StatusOr<std::string> a, b;
  std::thread ta([&] { a = cache.GetOrLoad("gone", std::ref(loader)); });
  std::thread tb([&] { b = cache.GetOrLoad("gone", std::ref(loader)); });
  ta.join();
  tb.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_THAT(a, StatusIs(absl::StatusCode::kNotFound, "person gone"));
  EXPECT_THAT(b, StatusIs(absl::StatusCode::kNotFound, "person gone"));
}

TEST_F(CacheTest, LoaderErrorIsReturnedAndNotCached) {
  Cache& cache = Make();
  int calls = 0;
  auto failing = [&]() -> absl::StatusOr<std::string> {
    ++calls;
    return absl::NotFoundError("people/p9 not found");
  };
  EXPECT_THAT(cache.GetOrLoad("p9", failing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("p9")));
  EXPECT_EQ(RawGet(cache.FullKey("p9")), absl::nullopt);
  EXPECT_THAT(cache.GetOrLoad("p9", failing),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(calls, 2);
  CountingLoader ok("found");
  EXPECT_THAT(cache.GetOrLoad("p9", std::ref(ok)), IsOk());
  EXPECT_EQ(ok.calls.load(), 1);
}

TEST_F(CacheTest, LoaderThatThrowsDoesNotWedgeTheKey) {
  Cache& cache = Make();
  auto throwing = []() -> absl::StatusOr<std::string> {
    throw std::runtime_error("soci: connection lost");
  };
  EXPECT_THROW((void)cache.GetOrLoad("t", throwing), std::runtime_error);
  EXPECT_EQ(cache.WaitersForTesting("t"), 0);
  CountingLoader ok("fine");
  auto v = cache.GetOrLoad("t", std::ref(ok));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "fine");
}

TEST_F(CacheTest, InvalidateThenReadReloads) {
  Cache& cache = Make();
  CountingLoader v1("v1");
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(v1)), IsOk());
  cache.Invalidate({"p1"});
  EXPECT_EQ(RawGet(cache.FullKey("p1")), absl::nullopt);
  CountingLoader v2("v2");
  auto got = cache.GetOrLoad("p1", std::ref(v2));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "v2");
  got = cache.GetOrLoad("p1", std::ref(v2));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "v2");
  EXPECT_EQ(v2.calls.load(), 1);
  EXPECT_EQ(Metric(registry_, "sightline_cache_invalidations_total",
                   {{"cache", "people"}}),
            1);
  cache.Invalidate({});  // nothing to do, no error
}

TEST_F(CacheTest, InvalidateDuringLoadReturnsValueButDoesNotStoreIt) {
  Cache& cache = Make();
  auto racing = [&]() -> absl::StatusOr<std::string> {
    // The loader read the row; now a writer commits and invalidates.
    cache.Invalidate({"p1"});
    return std::string("maybe-stale");
  };
  auto got = cache.GetOrLoad("p1", racing);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "maybe-stale");
  EXPECT_EQ(RawGet(cache.FullKey("p1")), absl::nullopt);
  CountingLoader fresh("fresh");
  got = cache.GetOrLoad("p1", std::ref(fresh));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "fresh");
  EXPECT_EQ(fresh.calls.load(), 1);
}

TEST_F(CacheTest, InvalidateOnAnotherReplicaDuringLoadAlsoBlocksTheStore) {
  Cache& a = Make();
  Cache& b = Make();  // same namespace: another replica
  auto racing = [&]() -> absl::StatusOr<std::string> {
    b.Invalidate({"p1"});
    return std::string("maybe-stale");
  };
  auto got = a.GetOrLoad("p1", racing);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "maybe-stale");
  EXPECT_EQ(RawGet(a.FullKey("p1")), absl::nullopt);
}

TEST_F(CacheTest, CallerAfterAnInvalidateDoesNotJoinAnOlderLoad) {
  Cache& cache = Make();
  absl::Notification release_old;
  std::atomic<int> old_calls{0};
  auto old_loader = [&]() -> absl::StatusOr<std::string> {
    old_calls.fetch_add(1);
    release_old.WaitForNotificationWithTimeout(absl::Seconds(30));
    return std::string("old");
  };
  absl::StatusOr<std::string> old_result;
  std::thread old_reader(
      [&] { old_result = cache.GetOrLoad("p1", std::ref(old_loader)); });
  for (int i = 0; i < 1000 && old_calls.load() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(old_calls.load(), 1);
  cache.Invalidate({"p1"});  // the write committed while "old" was loading
  CountingLoader fresh("new");
  auto got = cache.GetOrLoad("p1", std::ref(fresh));
  release_old.Notify();
  old_reader.join();
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "new");
  EXPECT_EQ(fresh.calls.load(), 1);
  ASSERT_THAT(old_result, IsOk());
  EXPECT_EQ(*old_result, "old");
  // The older load was not stored over the newer one.
  EXPECT_THAT(RawGet(cache.FullKey("p1")), Optional(std::string("new")));
}

TEST_F(CacheTest, RedisStoppedFallsBackThenCachingResumesOnRestart) {
  Cache& cache = Make();
  CountingLoader loader("v");
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(loader)), IsOk());
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(loader)), IsOk());
  ASSERT_EQ(Requests("hit"), 1);
  const int port = redis_->port();
  redis_->Stop();

  for (int i = 0; i < 3; ++i) {
    auto v = cache.GetOrLoad("p1", std::ref(loader));
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(*v, "v");
  }
  EXPECT_EQ(cache.breaker_state(), State::kOpen);
  EXPECT_EQ(BreakerGauge(), 2);
  EXPECT_EQ(Errors("get"), 3);
  EXPECT_EQ(Requests("error"), 3);
  // Open: Redis is not even tried.
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(loader)), IsOk());
  EXPECT_EQ(Errors("get"), 3);
  EXPECT_EQ(Requests("bypass"), 1);
  EXPECT_EQ(loader.calls.load(), 5);

  ASSERT_THAT(redis_->Start(port), IsOk());
  bool hit = false;
  for (int i = 0; i < 10 && !hit; ++i) {
    clock_.Advance(absl::Seconds(2));
    const double hits = Requests("hit");
    auto v = cache.GetOrLoad("p1", std::ref(loader));
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(*v, "v");
    hit = Requests("hit") > hits;
  }
  EXPECT_TRUE(hit);
  EXPECT_EQ(cache.breaker_state(), State::kClosed);
  EXPECT_EQ(BreakerGauge(), 0);
}

TEST_F(CacheTest, RedisPausedInvalidationIsAppliedBeforeReadsResume) {
  Cache& cache = Make();
  CountingLoader v1("v1");
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(v1)), IsOk());
  const std::string key = cache.FullKey("p1");
  ASSERT_THAT(RawGet(key), Optional(std::string("v1")));

  ASSERT_THAT(redis_->Pause(), IsOk());
  FailUntilOpen(cache);  // each read times out and is answered by its loader
  EXPECT_EQ(Errors("get"), 3);
  // The write commits now; the breaker is open, so the DEL is remembered.
  cache.Invalidate({"p1"});
  EXPECT_EQ(Pending(), 1);
  ASSERT_THAT(redis_->Resume(), IsOk());
  // Redis still holds the stale value.
  ASSERT_THAT(RawGet(key), Optional(std::string("v1")));

  CountingLoader v2("v2");
  bool hit = false;
  for (int i = 0; i < 10 && !hit; ++i) {
    clock_.Advance(absl::Seconds(2));
    const double hits = Requests("hit");
    auto v = cache.GetOrLoad("p1", std::ref(v2));
    ASSERT_THAT(v, IsOk());
    ASSERT_EQ(*v, "v2");  // never the stale v1
    hit = Requests("hit") > hits;
  }
  EXPECT_TRUE(hit);
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(cache.breaker_state(), State::kClosed);
  EXPECT_THAT(RawGet(key), Optional(std::string("v2")));
}

TEST_F(CacheTest, InvalidateThatTimesOutIsRetriedBeforeTheNextRead) {
  Cache& cache = Make();
  CountingLoader v1("v1");
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(v1)), IsOk());
  ASSERT_THAT(redis_->Pause(), IsOk());
  cache.Invalidate({"p1"});  // breaker closed: tried, timed out, remembered
  EXPECT_EQ(Errors("del"), 1);
  EXPECT_EQ(Pending(), 1);
  EXPECT_EQ(cache.breaker_state(), State::kClosed);
  ASSERT_THAT(redis_->Resume(), IsOk());
  CountingLoader v2("v2");
  auto v = cache.GetOrLoad("p1", std::ref(v2));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "v2");
  EXPECT_EQ(Pending(), 0);
  v = cache.GetOrLoad("p1", std::ref(v2));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "v2");
  EXPECT_EQ(v2.calls.load(), 1);
}

TEST_F(CacheTest, PendingOverflowFlushesTheNamespaceOnRecovery) {
  CacheOptions options = Options();
  options.max_pending_invalidations = 2;
  Cache& cache = Make(options);
  for (const char* k : {"a", "b", "c", "untouched"}) {
    CountingLoader l(absl::StrCat("old-", k));
    ASSERT_THAT(cache.GetOrLoad(k, std::ref(l)), IsOk());
  }
  const std::string old_untouched = cache.FullKey("untouched");
  ASSERT_THAT(redis_->Pause(), IsOk());
  FailUntilOpen(cache);
  cache.Invalidate({"a", "b"});
  EXPECT_EQ(Pending(), 2);
  cache.Invalidate({"c"});  // one too many: remember "flush everything"
  EXPECT_EQ(Pending(), 2);
  ASSERT_THAT(redis_->Resume(), IsOk());

  CountingLoader fresh("new-untouched");
  absl::StatusOr<std::string> v;
  for (int i = 0; i < 10 && cache.breaker_state() != State::kClosed; ++i) {
    clock_.Advance(absl::Seconds(2));
    v = cache.GetOrLoad("untouched", std::ref(fresh));
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(*v, "new-untouched");
  }
  EXPECT_EQ(cache.breaker_state(), State::kClosed);
  EXPECT_EQ(Pending(), 0);
  EXPECT_THAT(RawGet("sl:people:gen"), Optional(std::string("1")));
  EXPECT_EQ(cache.FullKey("untouched"), "sl:people:v1:g1:untouched");
  // The old key is orphaned, not deleted: nobody reads it any more.
  EXPECT_THAT(RawGet(old_untouched), Optional(std::string("old-untouched")));
  CountingLoader a("new-a");
  v = cache.GetOrLoad("a", std::ref(a));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "new-a");
}

TEST_F(CacheTest, InvalidateAllOrphansKeysForEveryReplica) {
  Cache& a = Make();
  Cache& b = Make();
  CountingLoader old_value("old");
  ASSERT_THAT(a.GetOrLoad("p1", std::ref(old_value)), IsOk());
  ASSERT_THAT(b.GetOrLoad("p1", std::ref(old_value)), IsOk());
  EXPECT_EQ(old_value.calls.load(), 1);  // b hit what a stored
  const std::string old_key = a.FullKey("p1");

  a.InvalidateAll();
  EXPECT_EQ(a.FullKey("p1"), "sl:people:v1:g1:p1");
  EXPECT_THAT(RawGet("sl:people:gen"), Optional(std::string("1")));
  // b learns the new generation from its next read; it must not serve "old".
  CountingLoader new_value("new");
  auto v = b.GetOrLoad("p1", std::ref(new_value));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "new");
  EXPECT_EQ(b.FullKey("p1"), a.FullKey("p1"));
  v = a.GetOrLoad("p1", std::ref(new_value));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "new");
  EXPECT_EQ(new_value.calls.load(), 1);  // stored by b, hit by a
  EXPECT_THAT(RawGet(old_key), Optional(std::string("old")));  // orphaned
}

TEST_F(CacheTest, InvalidateAfterAnotherReplicaFlushedDeletesTheCurrentKey) {
  Cache& a = Make();
  Cache& b = Make();
  a.InvalidateAll();  // b still believes generation 0
  CountingLoader v1("v1");
  ASSERT_THAT(a.GetOrLoad("p1", std::ref(v1)), IsOk());
  ASSERT_THAT(RawGet("sl:people:v1:g1:p1"), Optional(std::string("v1")));
  b.Invalidate({"p1"});
  EXPECT_EQ(RawGet("sl:people:v1:g1:p1"), absl::nullopt);
  EXPECT_EQ(b.FullKey("p1"), "sl:people:v1:g1:p1");
}

TEST_F(CacheTest, InvalidateAllWhileRedisIsDownIsAppliedOnRecovery) {
  Cache& cache = Make();
  CountingLoader old_value("old");
  ASSERT_THAT(cache.GetOrLoad("p1", std::ref(old_value)), IsOk());
  ASSERT_THAT(redis_->Pause(), IsOk());
  FailUntilOpen(cache);
  cache.InvalidateAll();
  ASSERT_THAT(redis_->Resume(), IsOk());
  CountingLoader new_value("new");
  for (int i = 0; i < 10 && cache.breaker_state() != State::kClosed; ++i) {
    clock_.Advance(absl::Seconds(2));
    auto v = cache.GetOrLoad("p1", std::ref(new_value));
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(*v, "new");
  }
  EXPECT_EQ(cache.breaker_state(), State::kClosed);
  EXPECT_THAT(RawGet("sl:people:gen"), Optional(std::string("1")));
}

TEST_F(CacheTest, TtlHasJitterWithinBounds) {
  CacheOptions options = Options();
  options.ttl = absl::Seconds(100);
  options.ttl_jitter = 0.1;
  Cache& cache = Make(options);
  std::set<int64_t> seen;
  for (int i = 0; i < 40; ++i) {
    const std::string k = absl::StrCat("k", i);
    CountingLoader l("v");
    ASSERT_THAT(cache.GetOrLoad(k, std::ref(l)), IsOk());
    const int64_t pttl = Pttl(cache.FullKey(k));
    // Upper bound exact; the lower one leaves room for a slow machine.
    EXPECT_LE(pttl, 110'000);
    EXPECT_GE(pttl, 90'000 - 10'000);
    seen.insert(pttl / 100);
  }
  EXPECT_GT(seen.size(), 1u);

  // The explicit-TTL overload is jittered too.
  CountingLoader l("v");
  ASSERT_THAT(cache.GetOrLoad("short", absl::Seconds(10), std::ref(l)), IsOk());
  const int64_t pttl = Pttl(cache.FullKey("short"));
  EXPECT_LE(pttl, 11'000);
  EXPECT_GE(pttl, 9'000 - 5'000);
}

TEST_F(CacheTest, ZeroJitterUsesTheTtlAsIs) {
  CacheOptions options = Options();
  options.ttl = absl::Seconds(30);
  options.ttl_jitter = 0;
  Cache& cache = Make(options);
  CountingLoader l("v");
  ASSERT_THAT(cache.GetOrLoad("k", std::ref(l)), IsOk());
  const int64_t pttl = Pttl(cache.FullKey("k"));
  EXPECT_LE(pttl, 30'000);
  EXPECT_GE(pttl, 30'000 - 10'000);
}

TEST_F(CacheTest, SchemaVersionSeparatesKeys) {
  Cache& v1 = Make();
  CacheOptions options = Options();
  options.schema_version = 2;
  Cache& v2 = Make(options);
  CountingLoader old_format("old-format");
  CountingLoader new_format("new-format");
  ASSERT_THAT(v1.GetOrLoad("p1", std::ref(old_format)), IsOk());
  auto v = v2.GetOrLoad("p1", std::ref(new_format));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "new-format");
  EXPECT_EQ(v2.FullKey("p1"), "sl:people:v2:g0:p1");
}

TEST_F(CacheTest, ProtoMessagesRoundTripAndBadBytesAreReloaded) {
  Cache& cache = Make();
  int calls = 0;
  auto loader = [&]() -> absl::StatusOr<google::protobuf::StringValue> {
    ++calls;
    google::protobuf::StringValue m;
    m.set_value(std::string("Ada\0Lovelace", 12));
    return m;
  };
  auto first =
      cache.GetOrLoadProto<google::protobuf::StringValue>("p1", loader);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->value(), std::string("Ada\0Lovelace", 12));
  auto second =
      cache.GetOrLoadProto<google::protobuf::StringValue>("p1", loader);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->value(), std::string("Ada\0Lovelace", 12));
  EXPECT_EQ(calls, 1);

  // Bytes that are not the message (a format change without a version bump).
  ASSERT_THAT(raw_->Set(cache.FullKey("p1"), "\xff\xff\xff", absl::Seconds(60)),
              IsOk());
  auto third = cache.GetOrLoadProto<google::protobuf::StringValue>(
      "p1", absl::Seconds(60), loader);
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->value(), std::string("Ada\0Lovelace", 12));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(RawGet(cache.FullKey("p1")), absl::nullopt);  // dropped

  auto missing = cache.GetOrLoadProto<google::protobuf::StringValue>(
      "p2", []() -> absl::StatusOr<google::protobuf::StringValue> {
        return absl::NotFoundError("people/p2");
      });
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CacheTest, MetricSeriesExistFromConstruction) {
  Make(Options("goals"));
  for (const char* r : {"hit", "miss", "error", "bypass"}) {
    EXPECT_EQ(Requests(r, "goals"), 0) << r;
  }
  for (const char* op : {"get", "set", "del", "gen"}) {
    EXPECT_EQ(Errors(op, "goals"), 0) << op;
  }
  EXPECT_EQ(BreakerGauge("goals"), 0);
  EXPECT_EQ(Pending("goals"), 0);
  EXPECT_EQ(Metric(registry_, "sightline_cache_invalidations_total",
                   {{"cache", "goals"}}),
            0);
}

TEST(CacheWithoutRedisTest, NullClientAlwaysCallsTheLoader) {
  prometheus::Registry registry;
  CacheOptions options;
  options.ns = "feedback";
  Cache cache(nullptr, options, &registry);
  CountingLoader loader("v");
  for (int i = 0; i < 3; ++i) {
    auto v = cache.GetOrLoad("f1", std::ref(loader));
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(*v, "v");
  }
  EXPECT_EQ(loader.calls.load(), 3);
  cache.Invalidate({"f1"});
  cache.InvalidateAll();
  EXPECT_EQ(cache.breaker_state(), State::kClosed);
  EXPECT_THAT(cache.GetOrLoad("f1",
                              []() -> absl::StatusOr<std::string> {
                                return absl::PermissionDeniedError("no");
                              }),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Metric(registry, "sightline_cache_requests_total",
                   {{"cache", "feedback"}, {"result", "bypass"}}),
            4);
}

TEST(CacheWithoutRedisTest, NoRegistryIsFine) {
  CacheOptions options;
  options.ns = "metrics";
  RedisConfig config;
  config.url =
      absl::StrCat("redis://127.0.0.1:", sightline::testing::FreePort());
  Cache cache(std::make_unique<RedisClient>(config), options, nullptr);
  CountingLoader loader("v");
  for (int i = 0; i < 5; ++i) {
    auto v = cache.GetOrLoad("m1", std::ref(loader));
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(*v, "v");
  }
  EXPECT_EQ(cache.breaker_state(), State::kOpen);
  cache.Invalidate({"m1"});
  cache.InvalidateAll();
}

}  // namespace
}  // namespace sightline::cache
