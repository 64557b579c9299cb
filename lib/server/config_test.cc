#include "lib/server/config.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::server {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<ServerConfig> Load(std::vector<std::string> args) {
  static std::vector<std::vector<std::string>>
      keep;  // argv must outlive parsing
  args.insert(args.begin(), "test");
  keep.push_back(args);
  static std::vector<std::vector<char*>> ptrs;
  ptrs.emplace_back();
  for (auto& a : keep.back()) ptrs.back().push_back(a.data());
  ptrs.back().push_back(nullptr);
  return LoadConfig(
      {"people", "127.0.0.1:50051", "127.0.0.1:9451", "var/people.db"},
      static_cast<int>(ptrs.back().size() - 1), ptrs.back().data());
}

TEST(ConfigTest, DefaultsEnvironmentAndFlagsInThatOrder) {
  unsetenv("SIGHTLINE_GRPC_ADDRESS");
  setenv("SIGHTLINE_JWT_KEY_FILE", "/env/secret", 1);
  setenv("SIGHTLINE_WORKER_THREADS", "3", 1);
  auto c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->grpc_address, "127.0.0.1:50051");
  EXPECT_EQ(c->db, "var/people.db");
  EXPECT_EQ(c->jwt_key_file, "/env/secret");
  EXPECT_EQ(c->worker_threads, 3);

  auto d = Load({"--worker_threads=5", "--jwt_key_file=/flag/secret"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->worker_threads, 5);
  EXPECT_EQ(d->jwt_key_file, "/flag/secret");
  unsetenv("SIGHTLINE_JWT_KEY_FILE");
  unsetenv("SIGHTLINE_WORKER_THREADS");
}

TEST(ConfigTest, InvalidValuesNameTheFlag) {
  EXPECT_THAT(Load({"--jwt_key_file=k", "--worker_threads=0"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--worker_threads")));
  EXPECT_THAT(Load({"--jwt_key_file=k", "--jwt_algorithm=none"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--jwt_algorithm")));
  EXPECT_THAT(Load({"--jwt_key_file="}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--jwt_key_file")));
}

// Flags keep their values between loads: each load of the caller limits
// names every flag the earlier tests may have changed.
absl::StatusOr<ServerConfig> LoadLimits(std::vector<std::string> flags) {
  std::vector<std::string> args = {
      "--jwt_key_file=k",
      "--jwt_algorithm=HS256",
      "--worker_threads=4",
      "--caller_read_rate=2000",
      "--caller_read_burst=4000",
      "--caller_write_rate=500",
      "--caller_write_burst=1000",
      "--caller_sync_rate=5",
      "--caller_sync_burst=50",
      "--caller_max_concurrent_calls=500",
      "--caller_max_open_streams=100",
      "--caller_limits_tracked=100000",
  };
  args.insert(args.end(), flags.begin(), flags.end());
  return Load(args);
}

TEST(ConfigTest, CallerLimitsDefaultOnAndZeroTurnsThemOff) {
  // The defaults, before any test sets a caller flag.
  auto c =
      Load({"--jwt_key_file=k", "--worker_threads=4", "--jwt_algorithm=HS256"});
  ASSERT_TRUE(c.ok()) << c.status();
  const CallerLimitsConfig& l = c->caller_limits;
  EXPECT_TRUE(l.enabled());
  EXPECT_EQ(l.rate[static_cast<int>(MethodClass::kRead)].per_second, 2000);
  EXPECT_EQ(l.rate[static_cast<int>(MethodClass::kRead)].burst, 4000);
  EXPECT_EQ(l.rate[static_cast<int>(MethodClass::kWrite)].per_second, 500);
  EXPECT_EQ(l.rate[static_cast<int>(MethodClass::kSync)].per_second, 5);
  EXPECT_EQ(l.max_concurrent_calls, 500);
  EXPECT_EQ(l.max_open_streams, 100);
  EXPECT_FALSE(l.limit_services);

  auto off = LoadLimits(
      {"--caller_read_rate=0", "--caller_write_rate=0", "--caller_sync_rate=0",
       "--caller_max_concurrent_calls=0", "--caller_max_open_streams=0"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->caller_limits.enabled());
}

TEST(ConfigTest, InvalidCallerLimitsNameTheFlag) {
  EXPECT_THAT(LoadLimits({"--caller_write_rate=-1"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--caller_write_rate")));
  EXPECT_THAT(LoadLimits({"--caller_read_burst=0.5"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--caller_read_burst: must be >= 1")));
  EXPECT_THAT(LoadLimits({"--caller_sync_rate=nan"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--caller_sync_rate")));
  EXPECT_THAT(LoadLimits({"--caller_max_concurrent_calls=-2"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--caller_max_concurrent_calls")));
  EXPECT_THAT(LoadLimits({"--caller_max_open_streams=-1"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--caller_max_open_streams")));
  EXPECT_THAT(LoadLimits({"--caller_limits_tracked=0"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--caller_limits_tracked")));
}

}  // namespace
}  // namespace sightline::server
