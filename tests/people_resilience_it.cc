// The people service when its dependencies fail, and when it is told to stop.

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::testing::HasSubstr;

constexpr char kHits[] =
    "sightline_cache_requests_total{cache=\"people\",result=\"hit\"}";
constexpr char kBreaker[] = "sightline_cache_breaker_state{cache=\"people\"}";

class PeopleResilienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = PeopleCluster::Start(Db::kSqlite, {"--shutdown_drain=500ms"});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
    pv1::SyncPeopleResponse resp;
    ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(40), &resp), GrpcOk());
  }

  absl::StatusOr<pv1::Person> Lookup(const std::string& ext) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::LookupPersonRequest req;
    req.set_external_id(ext);
    pv1::Person p;
    grpc::Status s = stub_->LookupPerson(&ctx, req, &p);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    return p;
  }

  void Retitle(const std::string& ext, const std::string& manager,
               const std::string& title) {
    auto record = PersonMsg(ext, manager,
                            absl::StrCat("T", std::stoi(ext.substr(1)) % 3));
    record.mutable_person()->set_title(title);
    pv1::SyncPeopleResponse resp;
    ASSERT_THAT(cluster_->Sync(Incremental(), {record}, &resp), GrpcOk());
    ASSERT_EQ(resp.people().updated(), 1);
  }

  double Metric(const char* series) {
    auto text = cluster_->service().ScrapeMetrics();
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? MetricValue(*text, series) : -1;
  }

  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
};

TEST_F(PeopleResilienceTest, RedisKilledThenRestartedServesNoStaleRead) {
  ASSERT_EQ(Lookup("E3")->title(), "Engineer");
  ASSERT_EQ(Lookup("E3")->title(), "Engineer");
  double hits_before = Metric(kHits);
  ASSERT_GT(hits_before, 0);  // the second read came from Redis

  int port = cluster_->redis().port();
  cluster_->redis().Stop();
  // Reads keep answering, correctly, from SQL.
  for (int i = 0; i < 20; ++i) {
    auto p = Lookup("E3");
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->title(), "Engineer");
  }
  EXPECT_EQ(Metric(kBreaker), 2);  // open
  // A write while Redis is gone cannot invalidate anything there.
  Retitle("E3", "E0", "Director");
  EXPECT_EQ(Lookup("E3")->title(), "Director");

  ASSERT_TRUE(cluster_->redis().Start(port).ok());
  // Caching resumes by itself; no read ever returns the old title.
  bool resumed = false;
  for (int i = 0; i < 100 && !resumed; ++i) {
    double hits = Metric(kHits);
    auto p = Lookup("E3");
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->title(), "Director");
    resumed = Metric(kHits) > hits;
    if (!resumed) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(resumed) << "caching did not resume after Redis came back";
  EXPECT_EQ(Metric(kBreaker), 0);  // closed
}

TEST_F(PeopleResilienceTest, RedisPausedKeepsItsStaleValueButItIsNeverServed) {
  // Warm the cache: Redis holds E4 as an Engineer.
  ASSERT_EQ(Lookup("E4")->title(), "Engineer");
  ASSERT_EQ(Lookup("E4")->title(), "Engineer");
  ASSERT_TRUE(cluster_->redis().Pause().ok());
  // Slow Redis: calls still succeed (after the command timeout, from SQL).
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Lookup("E4")->title(), "Engineer");
  Retitle("E4", "E0", "Staff Engineer");
  ASSERT_TRUE(cluster_->redis().Resume().ok());
  // Redis still holds "Engineer" under E4's key, unless the invalidation that
  // failed during the pause is replayed before any read is served from it.
  for (int i = 0; i < 50; ++i) {
    auto p = Lookup("E4");
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_EQ(p->title(), "Staff Engineer") << "stale read on attempt " << i;
    absl::SleepFor(absl::Milliseconds(40));
  }
  // And the reporting chains of E4's reports follow the new title too.
  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken());
  pv1::GetReportingChainRequest req;
  req.set_name(Lookup("E21")->name());  // (21 - 1) / 5 = 4
  pv1::GetReportingChainResponse chain;
  ASSERT_THAT(stub_->GetReportingChain(&ctx, req, &chain), GrpcOk());
  ASSERT_GE(chain.managers_size(), 1);
  EXPECT_EQ(chain.managers(0).title(), "Staff Engineer");
}

TEST_F(PeopleResilienceTest, SigtermUnderSteadyTrafficFailsNoCallInFlight) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::string other_codes;
  absl::Mutex mu;
  std::string name = Lookup("E5")->name();
  // Clients behave like production ones: they watch the health service
  // (gRPC client-side health checking), so during --shutdown_drain they stop
  // sending to a server that reports NOT_SERVING instead of racing its exit.
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(
      R"({"loadBalancingConfig":[{"round_robin":{}}],)"
      R"("healthCheckConfig":{"serviceName":"sightline.people.v1.PeopleService"}})");
  auto channel = grpc::CreateCustomChannel(
      cluster_->service().address(), grpc::InsecureChannelCredentials(), args);
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      auto stub = pv1::PeopleService::NewStub(channel);
      std::string token = cluster_->EmployeeToken();
      for (int i = 0; i < 100000 && !stop.load(); ++i) {
        grpc::ClientContext ctx;
        Authorize(&ctx, token, absl::Seconds(10));
        grpc::Status s;
        if (t % 2 == 0) {
          pv1::GetPersonRequest req;
          req.set_name(name);
          pv1::Person p;
          s = stub->GetPerson(&ctx, req, &p);
        } else {
          pv1::ListPeopleRequest req;
          req.set_page_size(40);
          pv1::ListPeopleResponse r;
          s = stub->ListPeople(&ctx, req, &r);
        }
        if (s.ok()) {
          ++ok;
        } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
          ++unavailable;  // refused before it started: the server had stopped
          absl::SleepFor(absl::Milliseconds(5));
        } else {
          ++other;
          absl::MutexLock lock(&mu);
          absl::StrAppend(&other_codes, s.error_code(), ":", s.error_message(),
                          "; ");
        }
      }
    });
  }
  // Let traffic run, then stop the server under it.
  for (int i = 0; i < 200 && ok.load() < 200; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(cluster_->service().process()->Signal(SIGTERM).ok());
  auto status = cluster_->service().process()->Wait(absl::Seconds(30));
  stop = true;
  for (auto& c : clients) c.join();
  ASSERT_TRUE(status.ok()) << "the service did not stop";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_EQ(other.load(), 0) << other_codes;
  EXPECT_GT(ok.load(), 0);

  // Every call the server started, it finished with OK, including those that
  // arrived while it was draining.
  std::string log = cluster_->service().Log();
  int after_shutdown = 0, rpc_lines = 0;
  bool shutting_down = false;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "\"msg\":\"shutting down\""))
      shutting_down = true;
    if (!absl::StrContains(line, "\"msg\":\"rpc\"")) continue;
    EXPECT_TRUE(absl::StrContains(line, "\"code\":\"OK\"")) << line;
    // The calls of the load; set-up calls are not counted.
    if (!absl::StrContains(line, "/GetPerson\"") &&
        !absl::StrContains(line, "/ListPeople\"")) {
      continue;
    }
    ++rpc_lines;
    EXPECT_TRUE(absl::StrContains(line, "\"code\":\"OK\"")) << line;
    if (shutting_down) ++after_shutdown;
  }
  EXPECT_GT(rpc_lines, 0);
  // Every call the server started reached its client as OK.
  EXPECT_EQ(rpc_lines, ok.load());
  EXPECT_GT(after_shutdown, 0) << "no call was in flight during shutdown";
  EXPECT_TRUE(shutting_down);
  // No token ever reaches the log.
  EXPECT_FALSE(absl::StrContains(log, "eyJ"));
}

}  // namespace
}  // namespace sightline::testing
