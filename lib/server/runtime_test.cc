// Runtime::Unary on a real server: what a unary call answers and how it is
// measured when the worker queue is full, the token is missing or the handler
// fails, with no interceptor in the way.

#include "lib/server/runtime.h"

#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lib/server/server.h"
#include "lib/telemetry/log.h"
#include "lib/testing/service.h"
#include "lib/testing/status_matchers.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

namespace sightline::server {
namespace {

namespace pv1 = ::sightline::people::v1;
using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::sightline::testing::MetricValue;
using ::testing::HasSubstr;

constexpr char kKey[] = "runtime-test-secret-of-some-length";

// GetTeam runs on a worker and waits until the test lets it go; ListTeams
// fails with the error the request names.
class BlockingService : public pv1::PeopleService::CallbackService {
 public:
  explicit BlockingService(Runtime* runtime) : runtime_(runtime) {}

  grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* ctx,
                                    const pv1::GetTeamRequest* req,
                                    pv1::Team* resp) override {
    return runtime_->Unary(
        ctx, [this, req, resp](const CallContext& call) -> absl::Status {
          started_.fetch_add(1);
          release_.WaitForNotification();
          resp->set_name(req->name());
          resp->set_display_name(call.principal.subject);
          return absl::OkStatus();
        });
  }
  grpc::ServerUnaryReactor* ListTeams(
      grpc::CallbackServerContext* ctx, const pv1::ListTeamsRequest* req,
      pv1::ListTeamsResponse* /*resp*/) override {
    return runtime_->Unary(ctx, [req](const CallContext&) -> absl::Status {
      return absl::NotFoundError(
          absl::StrCat("no teams under ", req->parent()));
    });
  }

  int started() const { return started_.load(); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

 private:
  Runtime* runtime_;
  std::atomic<int> started_{0};
  absl::Notification release_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    telemetry::CaptureLogsForTest(&logs_);
    ServerConfig config;
    config.service = "runtime-test";
    config.grpc_address = "127.0.0.1:0";
    config.worker_threads = 1;
    config.max_queued_calls = 1;
    auth::VerifierConfig vc;
    vc.key = kKey;
    auto verifier = auth::TokenVerifier::Create(vc);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    runtime_ = std::make_unique<Runtime>(config, std::move(*verifier),
                                         storage::TokenCodec("page-key"));
    service_ = std::make_unique<BlockingService>(runtime_.get());
    server_ = std::make_unique<Server>(runtime_.get());
    server_->AddService(service_.get(), "sightline.people.v1.PeopleService");
    if (HoldNotServing()) server_->HoldNotServing();
    ASSERT_TRUE(server_->Start().ok());
    stub_ = pv1::PeopleService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  virtual bool HoldNotServing() const { return false; }
  void TearDown() override {
    service_->Release();
    server_->Shutdown();
    telemetry::CaptureLogsForTest(nullptr);
  }

  std::unique_ptr<grpc::ClientContext> Context(bool with_token = true) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(20));
    if (with_token) {
      auth::MintOptions m;
      m.key = kKey;
      m.subject = "ada@example.com";
      auto token = auth::Mint(m);
      EXPECT_TRUE(token.ok());
      ctx->AddMetadata("authorization", absl::StrCat("Bearer ", *token));
    }
    return ctx;
  }

  double Series(const std::string& name, const std::string& method,
                const std::string& code = "") {
    std::string labels =
        absl::StrCat("grpc_method=\"", method,
                     "\",grpc_service=\"sightline.people.v1.PeopleService\","
                     "grpc_type=\"unary\"}");
    if (!code.empty())
      labels = absl::StrCat("grpc_code=\"", code, "\",", labels);
    return MetricValue(runtime_->telemetry().Scrape(),
                       absl::StrCat(name, "{", labels));
  }

  std::vector<std::string> logs_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<BlockingService> service_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
};

TEST_F(RuntimeTest, AFullQueueAnswersResourceExhaustedAndIsCounted) {
  pv1::GetTeamRequest req;
  req.set_name("teams/core");
  // The one worker takes the first call and holds it; the second waits in
  // the queue, which then is full.
  pv1::Team first_team, second_team;
  grpc::Status first, second;
  auto first_ctx = Context();
  std::thread a(
      [&] { first = stub_->GetTeam(first_ctx.get(), req, &first_team); });
  for (int i = 0; i < 2000 && service_->started() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(service_->started(), 1);
  auto second_ctx = Context();
  std::thread b(
      [&] { second = stub_->GetTeam(second_ctx.get(), req, &second_team); });
  for (int i = 0; i < 2000 && runtime_->executor().queued() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(runtime_->executor().queued(), 1);

  auto third_ctx = Context();
  pv1::Team third_team;
  grpc::Status third = stub_->GetTeam(third_ctx.get(), req, &third_team);
  EXPECT_THAT(third, GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(third.error_message(), HasSubstr("retry with backoff"));

  service_->Release();
  a.join();
  b.join();
  EXPECT_THAT(first, GrpcOk());
  EXPECT_THAT(second, GrpcOk());
  EXPECT_EQ(second_team.display_name(), "ada@example.com");

  EXPECT_EQ(Series("grpc_server_started_total", "GetTeam"), 3);
  EXPECT_EQ(Series("grpc_server_msg_received_total", "GetTeam"), 3);
  EXPECT_EQ(Series("grpc_server_msg_sent_total", "GetTeam"), 2);
  EXPECT_EQ(Series("grpc_server_handled_total", "GetTeam", "OK"), 2);
  EXPECT_EQ(Series("grpc_server_handled_total", "GetTeam", "ResourceExhausted"),
            1);
  EXPECT_EQ(Series("grpc_server_handling_seconds_count", "GetTeam"), 3);
}

TEST_F(RuntimeTest, RefusedAndFailedCallsAreCountedAndLoggedByCode) {
  pv1::ListTeamsRequest req;
  req.set_parent("nowhere");
  pv1::ListTeamsResponse resp;
  auto no_token = Context(/*with_token=*/false);
  EXPECT_THAT(stub_->ListTeams(no_token.get(), req, &resp),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  auto ctx = Context();
  ctx->AddMetadata("x-request-id", "rt-7");
  grpc::Status st = stub_->ListTeams(ctx.get(), req, &resp);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(st.error_message(), "no teams under nowhere");
  auto echoed = ctx->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(echoed, ctx->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()), "rt-7");

  EXPECT_EQ(Series("grpc_server_started_total", "ListTeams"), 2);
  EXPECT_EQ(Series("grpc_server_msg_sent_total", "ListTeams"), 0);
  EXPECT_EQ(Series("grpc_server_handled_total", "ListTeams", "Unauthenticated"),
            1);
  EXPECT_EQ(Series("grpc_server_handled_total", "ListTeams", "NotFound"), 1);
  // Health checks go through the interceptor, and are counted as well.
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext hctx;
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  EXPECT_THAT(health->Check(&hctx, hreq, &hresp), GrpcOk());
  EXPECT_EQ(MetricValue(runtime_->telemetry().Scrape(),
                        "grpc_server_handled_total{grpc_code=\"OK\","
                        "grpc_method=\"Check\",grpc_service=\"grpc.health."
                        "v1.Health\",grpc_type=\"unary\"}"),
            1);

  telemetry::FlushLogs();
  std::string all;
  for (const auto& l : logs_) absl::StrAppend(&all, l, "\n");
  EXPECT_THAT(all, HasSubstr("\"method\":\"/sightline.people.v1.PeopleService/"
                             "ListTeams\",\"code\":\"Unauthenticated\""));
  EXPECT_THAT(all, HasSubstr("\"code\":\"NotFound\""));
  EXPECT_THAT(all, HasSubstr("\"principal\":\"ada@example.com\","
                             "\"request_id\":\"rt-7\",\"error\":\"no teams "
                             "under nowhere\""));
}

class WarmingUpTest : public RuntimeTest {
 protected:
  bool HoldNotServing() const override { return true; }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(
      const std::string& service) {
    auto health = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status st = health->Check(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.status();
  }
};

TEST_F(WarmingUpTest, ServiceIsNotServingUntilWarmAndNeverAfterShutdownBegins) {
  using grpc::health::v1::HealthCheckResponse;
  const std::string service = "sightline.people.v1.PeopleService";
  // Liveness asks about the server as a whole: alive while warming up.
  EXPECT_EQ(Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(service), HealthCheckResponse::NOT_SERVING);
  // Calls are answered meanwhile: only balancers and probes hold back.
  service_->Release();
  auto ctx = Context();
  pv1::GetTeamRequest req;
  req.set_name("teams/t1");
  pv1::Team team;
  EXPECT_THAT(stub_->GetTeam(ctx.get(), req, &team), GrpcOk());
  EXPECT_EQ(team.name(), "teams/t1");

  EXPECT_TRUE(server_->MarkServing());
  EXPECT_EQ(Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(service), HealthCheckResponse::SERVING);

  // A warm-up that ends after shutdown began does not bring it back.
  server_->Shutdown();
  EXPECT_FALSE(server_->MarkServing());
}

}  // namespace
}  // namespace sightline::server
