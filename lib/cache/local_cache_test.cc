#include "lib/cache/local_cache.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/cache/memoized.h"

namespace sightline::cache {
namespace {

TEST(LocalCacheTest, StoresAndInvalidates) {
  LocalCache<std::string> c(1000);
  EXPECT_FALSE(c.Get("a").has_value());
  c.Put("a", "1", c.epoch());
  EXPECT_EQ(c.Get("a").value_or(""), "1");
  c.Invalidate({"a"});
  EXPECT_FALSE(c.Get("a").has_value());
}

TEST(LocalCacheTest, ALoadThatRacedAnInvalidationIsNotStored) {
  LocalCache<std::string> c(1000);
  uint64_t before = c.epoch();  // a reader starts loading "a"...
  c.Invalidate({"a"});          // ...a writer commits and invalidates...
  c.Put("a", "stale", before);  // ...the reader's old value is refused.
  EXPECT_FALSE(c.Get("a").has_value());
  c.Put("a", "fresh", c.epoch());
  EXPECT_EQ(c.Get("a").value_or(""), "fresh");
  uint64_t e = c.epoch();
  c.Clear();
  c.Put("b", "stale", e);
  EXPECT_FALSE(c.Get("b").has_value());
  EXPECT_FALSE(c.Get("a").has_value());
}

TEST(LocalCacheTest, IsBoundedAndCanBeDisabled) {
  LocalCache<int> c(160);  // 10 per shard
  for (int i = 0; i < 10000; ++i) c.Put(absl::StrCat("k", i), i, c.epoch());
  EXPECT_LE(c.size(), 160u);
  LocalCache<int> off(0);
  off.Put("k", 1, off.epoch());
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.Get("k").has_value());
}

TEST(LocalCacheTest, ConcurrentReadersAndWriters) {
  LocalCache<int> c(10000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string k = absl::StrCat("k", i % 50);
        if (t == 0 && i % 10 == 0) {
          c.Invalidate({k});
        } else if (auto v = c.Get(k); !v.has_value()) {
          c.Put(k, i % 50, c.epoch());
        } else {
          EXPECT_EQ(*v, i % 50);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST(MemoizedTest,
     RendersOnceForAllReadersAndAnInvalidatedEntryIsRenderedAnew) {
  using Entry = std::shared_ptr<const Memoized<int>>;
  LocalCache<Entry> c(1000);
  c.Put("k", std::make_shared<const Memoized<int>>(7), c.epoch());
  std::atomic<int> renders{0};
  auto render = [&](const int& v) {
    renders.fetch_add(1);
    return absl::StrCat("v=", v);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto e = c.Get("k");
        ASSERT_TRUE(e.has_value());
        EXPECT_EQ((*e)->Rendered(render), "v=7");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(renders.load(), 1);
  // A changed value is a new entry, rendered from its own value.
  Entry held = *c.Get("k");
  c.Invalidate({"k"});
  c.Put("k", std::make_shared<const Memoized<int>>(8), c.epoch());
  EXPECT_EQ((*c.Get("k"))->Rendered(render), "v=8");
  EXPECT_EQ(held->Rendered(render), "v=7");  // a reader's copy stays whole
  EXPECT_EQ(renders.load(), 2);
}

}  // namespace
}  // namespace sightline::cache
