#include "lib/cache/ttl_cache.h"

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace sightline::cache {
namespace {

TEST(TtlCacheTest, AnswersWhatWasPutUntilItsTimeIsUp) {
  TtlCache<int> cache(absl::Milliseconds(30));
  EXPECT_FALSE(cache.Get("a").has_value());
  cache.Put("a", 1);
  ASSERT_TRUE(cache.Get("a").has_value());
  EXPECT_EQ(*cache.Get("a"), 1);
  EXPECT_FALSE(cache.Get("b").has_value());
  absl::SleepFor(absl::Milliseconds(60));
  EXPECT_FALSE(cache.Get("a").has_value());
}

TEST(TtlCacheTest, APutReplacesAndRestartsTheTime) {
  TtlCache<std::string> cache(absl::Hours(1));
  cache.Put("k", "old");
  cache.Put("k", "new");
  EXPECT_EQ(cache.Get("k").value_or(""), "new");
}

TEST(TtlCacheTest, StaysBoundedByStartingOverWhenFull) {
  TtlCache<int> cache(absl::Hours(1));
  for (int i = 0; i < 100000; ++i) cache.Put(std::to_string(i), i);
  EXPECT_TRUE(cache.Get("0").has_value());
  cache.Put("one more", 1);  // the 100,001st key clears the rest first
  EXPECT_FALSE(cache.Get("0").has_value());
  EXPECT_TRUE(cache.Get("one more").has_value());
}

}  // namespace
}  // namespace sightline::cache
