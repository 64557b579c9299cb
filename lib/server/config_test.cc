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

}  // namespace
}  // namespace sightline::server
