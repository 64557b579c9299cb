#include "lib/server/service_main.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sightline::server {
namespace {

const std::vector<storage::Migration>& KitMigrations() {
  static const auto* m = new std::vector<storage::Migration>{
      {.version = 1,
       .name = "kit",
       .sqlite = "CREATE TABLE kit_items (id TEXT PRIMARY KEY);",
       .postgres = {}}};
  return *m;
}

class ServiceBaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "key") << "a-secret-long-enough-for-hs256-signing";
  }

  std::string db_path() const { return (dir_ / "kit.db").string(); }

  // argv must outlive parsing.
  std::unique_ptr<ServiceBase> Create(
      absl::FunctionRef<absl::StatusOr<ServiceOptions>()> options, int* code) {
    args_ = {"kit",
             "--jwt_algorithm=HS256",
             "--jwt_key_file=" + (dir_ / "key").string(),
             "--grpc_address=127.0.0.1:0",
             "--metrics_address=",
             "--redis=",
             "--db=" + db_path()};
    argv_.clear();
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    return ServiceBase::Create(
        {"kit", "127.0.0.1:50059", "127.0.0.1:9459", "var/kit.db"},
        static_cast<int>(argv_.size() - 1), argv_.data(), options, code);
  }

  std::filesystem::path dir_;
  std::vector<std::string> args_;
  std::vector<char*> argv_;
};

TEST_F(ServiceBaseTest, RejectedServiceFlagsExitWithTwoBeforeAnythingIsBuilt) {
  int code = 0;
  auto base = Create(
      []() -> absl::StatusOr<ServiceOptions> {
        return absl::InvalidArgumentError("--kit_flag: must be positive");
      },
      &code);
  EXPECT_EQ(base, nullptr);
  EXPECT_EQ(code, 2);
  EXPECT_FALSE(std::filesystem::exists(db_path()));
}

TEST_F(ServiceBaseTest, BuildsTheCommonPartsWithoutADirectory) {
  int code = -1;
  auto base = Create(
      []() -> absl::StatusOr<ServiceOptions> {
        cache::CacheOptions a, b;
        a.ns = "kit";
        b.ns = "kit-chains";
        return ServiceOptions{.migrations = &KitMigrations(), .caches = {a, b}};
      },
      &code);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(base->config().service, "kit");
  EXPECT_EQ(base->config().db, db_path());
  ASSERT_NE(base->db(), nullptr);
  auto version = storage::SchemaVersion(*base->db(), "kit");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1);
  // Without --redis the caches exist and pass every read to the loader.
  ASSERT_NE(base->cache(0), nullptr);
  ASSERT_NE(base->cache(1), nullptr);
  EXPECT_NE(base->cache(0), base->cache(1));
  EXPECT_EQ(base->directory(), nullptr);
  EXPECT_EQ(base->org(), nullptr);
  EXPECT_EQ(base->token(), nullptr);
  ChangeStreamDeps deps = base->WatchDeps("kits");
  EXPECT_EQ(deps.runtime, base->runtime());
  EXPECT_EQ(deps.db, base->db());
  EXPECT_EQ(deps.feed, base->feed());
  EXPECT_EQ(deps.streams, base->streams());
  EXPECT_EQ(deps.feed_name, "kits");
}

}  // namespace
}  // namespace sightline::server
