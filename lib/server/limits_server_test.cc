// Limits per caller on a real server: a caller past a limit is answered
// RESOURCE_EXHAUSTED with google.rpc.RetryInfo in the status details while
// another caller is served at the same moment; the refusals are counted; a
// caller's running call slots come back on every way a call ends.

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lib/server/runtime.h"
#include "lib/server/server.h"
#include "lib/status/status.h"
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

constexpr char kKey[] = "limits-test-secret-of-some-length";
constexpr char kService[] = "sightline.people.v1.PeopleService";

// GetPerson answers on a worker (NOT_FOUND for "people/missing"); GetTeam
// waits on a worker until the test lets it go; ListTeams answers on the gRPC
// thread (the fast path); SyncPeople reads its stream and answers.
class PeopleForLimits : public pv1::PeopleService::CallbackService {
 public:
  explicit PeopleForLimits(Runtime* runtime) : runtime_(runtime) {}

  grpc::ServerUnaryReactor* GetPerson(grpc::CallbackServerContext* ctx,
                                      const pv1::GetPersonRequest* req,
                                      pv1::Person* resp) override {
    return runtime_->Unary(
        ctx, [req, resp](const CallContext& call) -> absl::Status {
          if (req->name() == "people/missing")
            return absl::NotFoundError("no such person");
          resp->set_name(req->name());
          resp->set_display_name(call.principal.subject);
          return absl::OkStatus();
        });
  }
  grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* ctx,
                                    const pv1::GetTeamRequest* req,
                                    pv1::Team* resp) override {
    return runtime_->Unary(
        ctx, [this, req, resp](const CallContext&) -> absl::Status {
          started_.fetch_add(1);
          release_.WaitForNotification();
          resp->set_name(req->name());
          return absl::OkStatus();
        });
  }
  grpc::ServerUnaryReactor* ListTeams(grpc::CallbackServerContext* ctx,
                                      const pv1::ListTeamsRequest*,
                                      pv1::ListTeamsResponse*) override {
    return runtime_->Unary(
        ctx,
        [](const CallContext&) -> std::optional<absl::Status> {
          return absl::NotFoundError("no teams");
        },
        [](const CallContext&) { return absl::InternalError("not reached"); });
  }
  grpc::ServerReadReactor<pv1::SyncPeopleRequest>* SyncPeople(
      grpc::CallbackServerContext* ctx, pv1::SyncPeopleResponse*) override {
    class Reader : public grpc::ServerReadReactor<pv1::SyncPeopleRequest> {
     public:
      Reader(Runtime* runtime, grpc::CallbackServerContext* ctx,
             std::atomic<int>* opened) {
        auto principal = runtime->Authenticate(ctx);
        if (!principal.ok()) {
          Finish(status::ToGrpc(principal.status()));
          return;
        }
        opened->fetch_add(1);
        StartRead(&msg_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        StartRead(&msg_);
      }
      void OnDone() override { delete this; }

     private:
      pv1::SyncPeopleRequest msg_;
    };
    return new Reader(runtime_, ctx, &opened_);
  }

  int started() const { return started_.load(); }
  int opened() const { return opened_.load(); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

 private:
  Runtime* runtime_;
  std::atomic<int> started_{0};
  std::atomic<int> opened_{0};
  absl::Notification release_;
};

class LimitsServerTest : public ::testing::Test {
 protected:
  void Start(CallerLimitsConfig limits, int workers = 4, int queue = 100) {
    telemetry::CaptureLogsForTest(&logs_);
    ServerConfig config;
    config.service = "limits-test";
    config.grpc_address = "127.0.0.1:0";
    config.worker_threads = workers;
    config.max_queued_calls = queue;
    config.caller_limits = limits;
    auth::VerifierConfig vc;
    vc.key = kKey;
    auto verifier = auth::TokenVerifier::Create(vc);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    runtime_ = std::make_unique<Runtime>(config, std::move(*verifier),
                                         storage::TokenCodec("page-key"));
    service_ = std::make_unique<PeopleForLimits>(runtime_.get());
    server_ = std::make_unique<Server>(runtime_.get());
    server_->AddService(service_.get(), kService);
    ASSERT_TRUE(server_->Start().ok());
    stub_ = pv1::PeopleService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (service_ != nullptr) service_->Release();
    if (server_ != nullptr) server_->Shutdown();
    telemetry::CaptureLogsForTest(nullptr);
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& subject,
                                          std::vector<auth::Role> roles = {
                                              auth::Role::kEmployee}) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(20));
    auth::MintOptions m;
    m.key = kKey;
    m.subject = subject;
    m.roles = std::move(roles);
    auto token = auth::Mint(m);
    EXPECT_TRUE(token.ok()) << token.status();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", *token));
    return ctx;
  }

  grpc::Status GetPerson(const std::string& subject,
                         const std::string& name = "people/ada") {
    pv1::GetPersonRequest req;
    req.set_name(name);
    pv1::Person resp;
    auto ctx = As(subject);
    return stub_->GetPerson(ctx.get(), req, &resp);
  }

  grpc::Status Sync(const std::string& subject,
                    std::vector<auth::Role> roles = {auth::Role::kHrAdmin}) {
    auto ctx = As(subject, std::move(roles));
    pv1::SyncPeopleResponse resp;
    auto writer = stub_->SyncPeople(ctx.get(), &resp);
    writer->WritesDone();
    return writer->Finish();
  }

  double Refused(const std::string& cls, const std::string& reason) {
    return MetricValue(
        runtime_->telemetry().Scrape(),
        absl::StrCat("sightline_caller_limit_refused_total{grpc_service=\"",
                     kService, "\",method_class=\"", cls, "\",reason=\"",
                     reason, "\"}"));
  }

  // The RetryInfo of a refusal, read from the status details the client got
  // (the grpc-status-details-bin trailer).
  static std::optional<absl::Duration> RetryDelayOf(const grpc::Status& st) {
    google::rpc::Status rpc;
    if (!rpc.ParseFromString(st.error_details())) return std::nullopt;
    for (const auto& any : rpc.details()) {
      google::rpc::RetryInfo info;
      if (any.UnpackTo(&info)) {
        return absl::Seconds(info.retry_delay().seconds()) +
               absl::Nanoseconds(info.retry_delay().nanos());
      }
    }
    return std::nullopt;
  }

  std::vector<std::string> logs_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<PeopleForLimits> service_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
};

CallerLimitsConfig ReadRate(double per_second, double burst) {
  CallerLimitsConfig c;
  c.rate[static_cast<int>(MethodClass::kRead)] = {per_second, burst};
  return c;
}

TEST_F(LimitsServerTest, ACallerPastItsRateIsRefusedWithRetryInfoAnotherIsNot) {
  // One token every 1000 s: the bucket does not refill during the test.
  Start(ReadRate(0.001, 2));
  EXPECT_THAT(GetPerson("ada@example.com"), GrpcOk());
  EXPECT_THAT(GetPerson("ada@example.com"), GrpcOk());
  grpc::Status refused = GetPerson("ada@example.com");
  EXPECT_THAT(refused, GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(refused.error_message(), HasSubstr("read calls per second"));
  EXPECT_THAT(refused.error_message(), HasSubstr("--caller_read_rate"));
  std::optional<absl::Duration> delay = RetryDelayOf(refused);
  ASSERT_TRUE(delay.has_value()) << "no RetryInfo in the status details";
  EXPECT_GT(*delay, absl::Seconds(900));
  EXPECT_LE(*delay, absl::Seconds(1000));
  EXPECT_EQ(status::ErrorReason(status::FromGrpc(refused)), "RATE_LIMITED");

  // Another caller at the same moment is served.
  EXPECT_THAT(GetPerson("bob@example.com"), GrpcOk());
  // The fast path is limited the same way (ListTeams is a read too).
  {
    auto ctx = As("ada@example.com");
    pv1::ListTeamsResponse resp;
    EXPECT_THAT(stub_->ListTeams(ctx.get(), {}, &resp),
                GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  }
  // Calls with a service token carry many users' work: not limited.
  for (int i = 0; i < 5; ++i) {
    pv1::GetPersonRequest req;
    req.set_name("people/ada");
    pv1::Person resp;
    auto ctx = As("svc-goals", {auth::Role::kService});
    EXPECT_THAT(stub_->GetPerson(ctx.get(), req, &resp), GrpcOk());
  }
  // No token: refused before any limit, and not counted as a limit.
  {
    grpc::ClientContext ctx;
    pv1::Person resp;
    EXPECT_THAT(stub_->GetPerson(&ctx, {}, &resp),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  }

  EXPECT_EQ(Refused("read", "rate"), 2);
  EXPECT_EQ(Refused("read", "concurrency"), 0);
  EXPECT_EQ(Refused("write", "rate"), 0);
  EXPECT_EQ(Refused("sync", "rate"), 0);
  EXPECT_EQ(MetricValue(runtime_->telemetry().Scrape(),
                        absl::StrCat("grpc_server_handled_total{grpc_code="
                                     "\"ResourceExhausted\",grpc_method="
                                     "\"GetPerson\",grpc_service=\"",
                                     kService, "\",grpc_type=\"unary\"}")),
            1);
}

TEST_F(LimitsServerTest, AStreamIsLimitedWhenOpenedByItsClass) {
  CallerLimitsConfig c;
  c.rate[static_cast<int>(MethodClass::kSync)] = {0.001, 1};
  Start(c);
  EXPECT_THAT(Sync("hr@example.com"), GrpcOk());
  grpc::Status refused = Sync("hr@example.com");
  EXPECT_THAT(refused, GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(refused.error_message(), HasSubstr("sync calls per second"));
  ASSERT_TRUE(RetryDelayOf(refused).has_value());
  EXPECT_GT(*RetryDelayOf(refused), absl::Seconds(900));
  // Another caller's sync, and the same caller's reads, go on.
  EXPECT_THAT(Sync("other-hr@example.com"), GrpcOk());
  EXPECT_THAT(GetPerson("hr@example.com"), GrpcOk());
  EXPECT_EQ(Refused("sync", "rate"), 1);
}

TEST_F(LimitsServerTest, RunningCallsAreCappedPerCallerAndEverySlotComesBack) {
  CallerLimitsConfig c;
  c.max_concurrent_calls = 2;
  Start(c, /*workers=*/1, /*queue=*/1);
  // ada's first call holds the one worker, her second waits in the queue.
  pv1::GetTeamRequest req;
  req.set_name("teams/core");
  pv1::Team t1, t2;
  grpc::Status s1, s2;
  auto c1 = As("ada@example.com");
  auto c2 = As("ada@example.com");
  std::thread a([&] { s1 = stub_->GetTeam(c1.get(), req, &t1); });
  for (int i = 0; i < 2000 && service_->started() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(service_->started(), 1);
  std::thread b([&] { s2 = stub_->GetTeam(c2.get(), req, &t2); });
  for (int i = 0; i < 2000 && runtime_->executor().queued() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(runtime_->executor().queued(), 1);

  // A third call of ada's: over her cap, refused with a hint to retry.
  grpc::Status capped = GetPerson("ada@example.com");
  EXPECT_THAT(capped, GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(capped.error_message(), HasSubstr("calls running at once"));
  EXPECT_EQ(status::ErrorReason(status::FromGrpc(capped)),
            "CONCURRENCY_LIMITED");
  EXPECT_TRUE(RetryDelayOf(capped).has_value());
  // bob is under his own cap: the full queue refuses him, not his limit.
  grpc::Status bob = GetPerson("bob@example.com");
  EXPECT_THAT(bob, GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(bob.error_message(), HasSubstr("too many queued calls"));
  // bob's slot came back with that answer: so do his next ones.
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(GetPerson("bob@example.com").error_message(),
                HasSubstr("too many queued calls"));
  }
  // The fast path gives its slot back too (bob answered on the gRPC thread).
  for (int i = 0; i < 3; ++i) {
    auto ctx = As("bob@example.com");
    pv1::ListTeamsResponse resp;
    EXPECT_THAT(stub_->ListTeams(ctx.get(), {}, &resp),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  }

  service_->Release();
  a.join();
  b.join();
  EXPECT_THAT(s1, GrpcOk());
  EXPECT_THAT(s2, GrpcOk());
  // ada's slots came back with her answers; a failing handler gives its
  // slot back as well.
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(GetPerson("ada@example.com", "people/missing"),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  }
  EXPECT_THAT(GetPerson("ada@example.com"), GrpcOk());
  EXPECT_EQ(Refused("read", "concurrency"), 1);
  EXPECT_EQ(Refused("read", "rate"), 0);
}

TEST_F(LimitsServerTest, OpenStreamsAreCappedPerCallerUntilTheyEnd) {
  CallerLimitsConfig c;
  c.max_open_streams = 1;
  c.max_concurrent_calls = 1;
  Start(c);
  // ada opens a sync and keeps it open.
  auto open_ctx = As("ada@example.com", {auth::Role::kHrAdmin});
  pv1::SyncPeopleResponse open_resp;
  auto open = stub_->SyncPeople(open_ctx.get(), &open_resp);
  for (int i = 0; i < 2000 && service_->opened() < 1; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(service_->opened(), 1);

  grpc::Status refused = Sync("ada@example.com");
  EXPECT_THAT(refused, GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(refused.error_message(), HasSubstr("streams open at once"));
  EXPECT_EQ(status::ErrorReason(status::FromGrpc(refused)), "STREAM_LIMITED");
  EXPECT_TRUE(RetryDelayOf(refused).has_value());
  // Her open stream is not a running unary call: her reads go on.
  EXPECT_THAT(GetPerson("ada@example.com"), GrpcOk());
  // Another caller's stream opens.
  EXPECT_THAT(Sync("bob@example.com"), GrpcOk());

  // Once her stream has ended, its slot is back.
  open->WritesDone();
  EXPECT_THAT(open->Finish(), GrpcOk());
  EXPECT_THAT(Sync("ada@example.com"), GrpcOk());
  // And each stream that ends gives its slot back.
  EXPECT_THAT(Sync("ada@example.com"), GrpcOk());
  EXPECT_EQ(Refused("sync", "streams"), 1);
  EXPECT_EQ(Refused("sync", "concurrency"), 0);
}

TEST_F(LimitsServerTest, LimitsOfZeroAreOff) {
  Start(CallerLimitsConfig{});
  for (int i = 0; i < 50; ++i)
    EXPECT_THAT(GetPerson("ada@example.com"), GrpcOk());
  for (int i = 0; i < 5; ++i) EXPECT_THAT(Sync("hr@example.com"), GrpcOk());
  EXPECT_EQ(runtime_->limiter().tracked(), 0u);
  EXPECT_EQ(Refused("read", "rate"), 0);
  EXPECT_EQ(Refused("sync", "rate"), 0);
}

}  // namespace
}  // namespace sightline::server
