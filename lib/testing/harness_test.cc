#include "lib/testing/harness.h"

#include <signal.h>
#include <sys/wait.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "libpq-fe.h"

namespace sightline::testing {
namespace {

TEST(HarnessTest, ProcessStopsByPidAndReportsExit) {
  std::string dir = MakeTempDir("harness");
  ProcessOptions o;
  o.argv = {"/bin/sh", "-c", "echo started; exec sleep 30"};
  o.log_path = dir + "/sh.log";
  auto p = Process::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE((*p)->Running());
  for (int i = 0; i < 500 && (*p)->Log().empty(); ++i)
    absl::SleepFor(absl::Milliseconds(10));
  int st = (*p)->Stop(absl::Seconds(5));
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGTERM);
  EXPECT_FALSE((*p)->Running());
  EXPECT_EQ((*p)->Log(), "started\n");
  RemoveTree(dir);
}

TEST(HarnessTest, RedisStartsPausesAndStops) {
  std::string dir = MakeTempDir("harness-redis");
  RedisServer redis(dir);
  ASSERT_TRUE(redis.Start().ok());
  EXPECT_GT(redis.port(), 0);
  EXPECT_TRUE(redis.Pause().ok());
  EXPECT_TRUE(redis.Resume().ok());
  redis.Stop();
  EXPECT_FALSE(redis.running());
  RemoveTree(dir);
}

TEST(HarnessTest, PostgresStartsAndCreatesDatabase) {
  std::string dir = MakeTempDir("harness-pg");
  {
    PostgresServer pg(dir);
    absl::Status st = pg.Start();
    ASSERT_TRUE(st.ok()) << st;
    auto url = pg.CreateDatabase("harness");
    ASSERT_TRUE(url.ok()) << url.status();
    PGconn* c = PQconnectdb(url->c_str());
    EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PQfinish(c);
  }
  RemoveTree(dir);
}

}  // namespace
}  // namespace sightline::testing
