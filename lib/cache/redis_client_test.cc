#include "lib/cache/redis_client.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"

namespace sightline::cache {
namespace {

using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ParseRedisUrlTest, HostAndPort) {
  auto c = ParseRedisUrl("redis://127.0.0.1:6380");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 6380);
  EXPECT_EQ(c->db, 0);
  EXPECT_EQ(c->url, "redis://127.0.0.1:6380");
  EXPECT_TRUE(c->password.empty());
}

TEST(ParseRedisUrlTest, DefaultsPortAndReadsDatabase) {
  auto c = ParseRedisUrl("redis://cache-0.redis.svc/3");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->host, "cache-0.redis.svc");
  EXPECT_EQ(c->port, 6379);
  EXPECT_EQ(c->db, 3);
  auto slash = ParseRedisUrl("redis://h:1/");
  ASSERT_THAT(slash, IsOk());
  EXPECT_EQ(slash->db, 0);
}

TEST(ParseRedisUrlTest, CredentialsAndIpv6) {
  auto c = ParseRedisUrl("redis://app:s%40cret@[::1]:7000/1");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->username, "app");
  EXPECT_EQ(c->password, "s@cret");
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 7000);
  EXPECT_EQ(c->db, 1);
  auto p = ParseRedisUrl("redis://:pw@h:1");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->username, "");
  EXPECT_EQ(p->password, "pw");
}

TEST(ParseRedisUrlTest, RejectsJunkNamingRedis) {
  for (const char* bad : {"",
                          "localhost:6379",
                          "http://h:1",
                          "rediss://h:1",
                          "redis://",
                          "redis://:6379",
                          "redis://h:",
                          "redis://h:0",
                          "redis://h:65536",
                          "redis://h:12ab",
                          "redis://h:1/x",
                          "redis://h:1/-1",
                          "redis://h:1?x=1",
                          "redis://h h:1",
                          "redis://[::1",
                          "redis://[::1]x",
                          "redis://pw@h:1",
                          "redis://:@h:1",
                          "redis://:%zz@h:1",
                          "redis://h:1/1234567"}) {
    EXPECT_THAT(ParseRedisUrl(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("redis url")))
        << bad;
  }
}

TEST(RedisClientCreateTest, EmptyUrlMeansNoClient) {
  auto c = RedisClient::Create(RedisConfig{});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(*c, nullptr);
}

TEST(RedisClientCreateTest, JunkUrlIsInvalidArgument) {
  RedisConfig config;
  config.url = "redis://h:99999";
  EXPECT_THAT(RedisClient::Create(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("redis")));
}

TEST(RedisClientCreateTest, JunkUrlGivenToConstructorFailsEveryCall) {
  RedisConfig config;
  config.url = "nope";
  RedisClient client(config);
  EXPECT_THAT(client.Ping(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("redis")));
  EXPECT_THAT(client.Get("k"), StatusIs(absl::StatusCode::kUnavailable));
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = sightline::testing::MakeTempDir("redis-client");
    redis_ = std::make_unique<sightline::testing::RedisServer>(dir_);
    ASSERT_THAT(redis_->Start(), IsOk());
  }
  void TearDown() override {
    redis_.reset();
    sightline::testing::RemoveTree(dir_);
  }
  RedisConfig Config(absl::string_view suffix = "") {
    RedisConfig c;
    c.url = absl::StrCat(redis_->url(), suffix);
    return c;
  }

  std::string dir_;
  std::unique_ptr<sightline::testing::RedisServer> redis_;
};

TEST_F(RedisClientTest, SetThenGetRoundTripsBinaryValues) {
  RedisClient client(Config());
  const std::string value("a\0b\xff\n\r\0", 7);
  ASSERT_THAT(client.Set(std::string("k\0ey", 4), value, absl::Seconds(60)),
              IsOk());
  auto got = client.Get(std::string("k\0ey", 4));
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(*got, Optional(value));
  EXPECT_THAT(client.Get("k"), IsOk());
  EXPECT_EQ(*client.Get("k"), absl::nullopt);
}

TEST_F(RedisClientTest, MGetReturnsValuesAndGapsInOrder) {
  RedisClient client(Config());
  ASSERT_THAT(client.Set("a", "1", absl::Seconds(60)), IsOk());
  ASSERT_THAT(client.Set("c", "3", absl::Seconds(60)), IsOk());
  auto got = client.MGet({"a", "b", "c"});
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(*got, ElementsAre(Optional(std::string("1")), absl::nullopt,
                                Optional(std::string("3"))));
  auto empty = client.MGet({});
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->empty());
}

TEST_F(RedisClientTest, SetAppliesTtlInMilliseconds) {
  RedisClient client(Config());
  ASSERT_THAT(client.Set("t", "v", absl::Milliseconds(90'000)), IsOk());
  auto r = client.Pipeline({{"PTTL", "t"}});
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].kind, RedisValue::Kind::kInteger);
  EXPECT_GT((*r)[0].integer, 80'000);
  EXPECT_LE((*r)[0].integer, 90'000);
  EXPECT_THAT(client.Set("t", "v", absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RedisClientTest, DelRemovesManyKeysInBatches) {
  RedisClient client(Config());
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back(absl::StrCat("del:", i));
    sets.push_back({"SET", keys.back(), "x"});
  }
  ASSERT_THAT(client.Pipeline(sets), IsOk());
  ASSERT_THAT(client.Pipeline({{"DBSIZE"}}), IsOk());
  EXPECT_EQ((*client.Pipeline({{"DBSIZE"}}))[0].integer, 1000);
  ASSERT_THAT(client.Del(keys), IsOk());
  EXPECT_EQ((*client.Pipeline({{"DBSIZE"}}))[0].integer, 0);
  EXPECT_THAT(client.Del({}), IsOk());
}

TEST_F(RedisClientTest, IncrCountsAndPingAnswers) {
  RedisClient client(Config());
  EXPECT_THAT(client.Ping(), IsOk());
  EXPECT_EQ(*client.Incr("n"), 1);
  EXPECT_EQ(*client.Incr("n"), 2);
  ASSERT_THAT(client.Set("s", "not a number", absl::Seconds(5)), IsOk());
  EXPECT_THAT(client.Incr("s"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("redis")));
  // A Redis error reply leaves the connection usable.
  EXPECT_EQ(*client.Incr("n"), 3);
}

TEST_F(RedisClientTest, SetIfUnchangedStoresOnlyWhileGuardsHold) {
  RedisClient client(Config());
  using Guard = std::pair<absl::string_view, absl::string_view>;
  // Absent guard keys read as "".
  const Guard absent[] = {{"epoch", ""}, {"gen", ""}};
  auto stored = client.SetIfUnchanged("k", "v1", absl::Seconds(60), absent);
  ASSERT_THAT(stored, IsOk());
  EXPECT_TRUE(*stored);
  EXPECT_THAT(*client.Get("k"), Optional(std::string("v1")));

  ASSERT_THAT(client.Incr("epoch"), IsOk());
  stored = client.SetIfUnchanged("k", "v2", absl::Seconds(60), absent);
  ASSERT_THAT(stored, IsOk());
  EXPECT_FALSE(*stored);
  EXPECT_THAT(*client.Get("k"), Optional(std::string("v1")));

  const Guard current[] = {{"epoch", "1"}, {"gen", ""}};
  stored = client.SetIfUnchanged("k",
                                 std::string("v\0"
                                             "3",
                                             3),
                                 absl::Seconds(60), current);
  ASSERT_THAT(stored, IsOk());
  EXPECT_TRUE(*stored);
  EXPECT_THAT(*client.Get("k"), Optional(std::string("v\0"
                                                     "3",
                                                     3)));
  auto pttl = client.Pipeline({{"PTTL", "k"}});
  ASSERT_THAT(pttl, IsOk());
  EXPECT_GT((*pttl)[0].integer, 50'000);
}

TEST_F(RedisClientTest, PipelineKeepsEachReplyIncludingErrors) {
  RedisClient client(Config());
  auto r = client.Pipeline({{"SET", "p", "1"},
                            {"INCR", "p"},
                            {"GET", "p"},
                            {"GET", "none"},
                            {"LPUSH", "p", "x"},
                            {"MGET", "p", "none"}});
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].kind, RedisValue::Kind::kStatus);
  EXPECT_EQ((*r)[1].kind, RedisValue::Kind::kInteger);
  EXPECT_EQ((*r)[1].integer, 2);
  EXPECT_EQ((*r)[2].kind, RedisValue::Kind::kString);
  EXPECT_EQ((*r)[2].str, "2");
  EXPECT_EQ((*r)[3].kind, RedisValue::Kind::kNil);
  EXPECT_EQ((*r)[4].kind, RedisValue::Kind::kError);
  EXPECT_THAT((*r)[4].str, HasSubstr("WRONGTYPE"));
  EXPECT_EQ((*r)[5].kind, RedisValue::Kind::kArray);
  ASSERT_EQ((*r)[5].elements.size(), 2u);
  EXPECT_EQ((*r)[5].elements[1].kind, RedisValue::Kind::kNil);
  EXPECT_THAT(client.Pipeline({{}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RedisClientTest, SelectsTheDatabaseFromTheUrl) {
  RedisClient db3(Config("/3"));
  RedisClient db0(Config());
  ASSERT_THAT(db3.Set("only-in-3", "v", absl::Seconds(60)), IsOk());
  EXPECT_THAT(*db3.Get("only-in-3"), Optional(std::string("v")));
  EXPECT_EQ(*db0.Get("only-in-3"), absl::nullopt);
}

TEST_F(RedisClientTest, ManyThreadsShareASmallPool) {
  RedisConfig config = Config();
  config.pool_size = 2;
  config.connect_timeout = absl::Seconds(5);  // waiting for a slot is fine
  config.command_timeout = absl::Seconds(5);
  RedisClient client(config);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string key = absl::StrCat("t", t);
        if (!client.Incr(key).ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < 8; ++t) {
    EXPECT_THAT(*client.Get(absl::StrCat("t", t)),
                Optional(std::string("200")));
  }
}

TEST_F(RedisClientTest, NobodyListeningIsUnavailable) {
  RedisConfig config;
  config.url =
      absl::StrCat("redis://127.0.0.1:", sightline::testing::FreePort());
  RedisClient client(config);
  EXPECT_THAT(client.Ping(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("redis")));
  EXPECT_THAT(client.Set("k", "v", absl::Seconds(1)),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(RedisClientTest, PausedServerTimesOutAndClientRecoversAfterResume) {
  RedisConfig config = Config();
  config.command_timeout = absl::Milliseconds(100);
  RedisClient client(config);
  ASSERT_THAT(client.Set("k", "v", absl::Seconds(60)), IsOk());
  ASSERT_THAT(redis_->Pause(), IsOk());
  EXPECT_THAT(client.Get("k"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("timed out")));
  EXPECT_THAT(client.Ping(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(redis_->Resume(), IsOk());
  absl::Status s;
  for (int i = 0; i < 50; ++i) {
    s = client.Ping();
    if (s.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(s, IsOk());
  EXPECT_THAT(*client.Get("k"), Optional(std::string("v")));
}

TEST_F(RedisClientTest, ReconnectsAfterTheServerRestarts) {
  RedisClient client(Config());
  ASSERT_THAT(client.Ping(), IsOk());
  const int port = redis_->port();
  redis_->Stop();
  EXPECT_THAT(client.Ping(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(client.Ping(), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(redis_->Start(port), IsOk());
  // The dead connection was dropped on the first error: no stale one left.
  EXPECT_THAT(client.Ping(), IsOk());
  EXPECT_THAT(client.Set("k", "v", absl::Seconds(5)), IsOk());
}

}  // namespace
}  // namespace sightline::cache
