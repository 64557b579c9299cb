// Authentication at the edge of the real people binary: every RPC but health
// needs a valid bearer token, whatever the shape of the call.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// One way to present bad credentials: the authorization header to send (none
// when `header` is empty) and the secret part that must never be echoed.
struct BadCredential {
  std::string what;
  std::string header;
  std::string secret;
};

class PeopleAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = PeopleCluster::Start(Db::kSqlite);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
  }

  std::vector<BadCredential> BadCredentials() const {
    const TestTokens& t = cluster_->tokens();
    std::string expired = t.Expired("tom.fischer@example.com");
    std::string forged = t.SignedWithOtherSecret("tom.fischer@example.com");
    std::string valid = cluster_->AdminToken();
    std::string garbage = "not-a-jwt-Zm9vYmFyYmF6cXV4";
    std::string dotted = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2VjcmV0c2ln";
    return {
        {"no authorization metadata", "", ""},
        {"Bearer with garbage", "Bearer " + garbage, garbage},
        {"Bearer with a three-part non-token", "Bearer " + dotted, dotted},
        {"Bearer with nothing", "Bearer ", ""},
        {"an expired token", "Bearer " + expired, expired},
        {"a token signed with another secret", "Bearer " + forged, forged},
        {"the Basic scheme", "Basic x", "x"},
        {"a valid token under the Basic scheme", "Basic " + valid, valid},
        {"a valid token with no scheme", valid, valid},
    };
  }

  static void Present(grpc::ClientContext* ctx, const BadCredential& c) {
    if (!c.header.empty()) ctx->AddMetadata("authorization", c.header);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  }

  // UNAUTHENTICATED, and the message does not carry the secret.
  static void ExpectRefused(const grpc::Status& s, const BadCredential& c,
                            const std::string& rpc) {
    EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED))
        << rpc << " with " << c.what;
    if (c.secret.size() > 1) {
      EXPECT_THAT(s.error_message(), Not(HasSubstr(c.secret)))
          << rpc << " with " << c.what;
      EXPECT_THAT(s.error_message(), Not(HasSubstr(c.header)))
          << rpc << " with " << c.what;
    }
  }

  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
};

TEST_F(PeopleAuthTest, BadCredentialsAreUnauthenticatedOnEveryKindOfRpc) {
  // Someone to read, so that a refusal is not a NOT_FOUND in disguise.
  pv1::SyncPeopleResponse seeded;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(3), &seeded), GrpcOk());
  pv1::ListPeopleResponse everyone;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    ASSERT_THAT(stub_->ListPeople(&ctx, pv1::ListPeopleRequest(), &everyone),
                GrpcOk());
    ASSERT_EQ(everyone.people_size(), 3);
  }
  const std::string name = everyone.people(0).name();

  for (const auto& c : BadCredentials()) {
    {  // unary
      grpc::ClientContext ctx;
      Present(&ctx, c);
      pv1::GetPersonRequest req;
      req.set_name(name);
      pv1::Person p;
      ExpectRefused(stub_->GetPerson(&ctx, req, &p), c, "GetPerson");
      EXPECT_EQ(p.name(), "");
    }
    {  // unary with a validation error: authentication comes first
      grpc::ClientContext ctx;
      Present(&ctx, c);
      pv1::GetPersonRequest req;
      req.set_name("bad");
      pv1::Person p;
      ExpectRefused(stub_->GetPerson(&ctx, req, &p), c, "GetPerson(bad)");
    }
    {  // server streaming
      grpc::ClientContext ctx;
      Present(&ctx, c);
      auto reader = stub_->WatchPeople(&ctx, pv1::WatchPeopleRequest());
      pv1::WatchPeopleResponse event;
      EXPECT_FALSE(reader->Read(&event)) << c.what;
      ExpectRefused(reader->Finish(), c, "WatchPeople");
    }
    {  // client streaming, with records that would change the directory
      grpc::ClientContext ctx;
      Present(&ctx, c);
      pv1::SyncPeopleResponse resp;
      auto writer = stub_->SyncPeople(&ctx, &resp);
      pv1::SyncPeopleRequest options;
      *options.mutable_options() = Incremental();
      bool open = writer->Write(options);
      for (const auto& r : OrgRecords(6)) {
        if (!open) break;
        open = writer->Write(r);
      }
      writer->WritesDone();
      ExpectRefused(writer->Finish(), c, "SyncPeople");
      EXPECT_EQ(resp.people().created(), 0);
    }
  }

  // None of the refused syncs changed anything.
  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken());
  pv1::ListPeopleResponse after;
  ASSERT_THAT(stub_->ListPeople(&ctx, pv1::ListPeopleRequest(), &after),
              GrpcOk());
  EXPECT_EQ(after.SerializeAsString(), everyone.SerializeAsString());

  // Every refusal is logged (the service flushes its log every 50 ms, hence
  // the bounded wait), and no log line carries a token.
  const size_t want_lines = BadCredentials().size() * 4;
  std::string log;
  for (int i = 0; i < 250; ++i) {
    log = cluster_->service().Log();
    if (Count(log, "\"code\":\"Unauthenticated\"") >= want_lines) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(Count(log, "\"code\":\"Unauthenticated\""), want_lines);
  for (const auto& c : BadCredentials()) {
    if (c.secret.size() > 1) {
      EXPECT_FALSE(absl::StrContains(log, c.secret)) << c.what;
    }
  }
}

TEST_F(PeopleAuthTest, AnEmployeeTokenWithNoRolesMayReadButNotSync) {
  pv1::SyncPeopleResponse seeded;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(7), &seeded), GrpcOk());
  const std::string employee = cluster_->EmployeeToken();

  pv1::ListPeopleResponse list;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, employee);
    ASSERT_THAT(stub_->ListPeople(&ctx, pv1::ListPeopleRequest(), &list),
                GrpcOk());
  }
  ASSERT_EQ(list.people_size(), 7);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, employee);
    pv1::GetPersonRequest req;
    req.set_name(list.people(2).name());
    pv1::Person p;
    ASSERT_THAT(stub_->GetPerson(&ctx, req, &p), GrpcOk());
    EXPECT_EQ(p.SerializeAsString(), list.people(2).SerializeAsString());
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, employee);
    pv1::LookupPersonRequest req;
    req.set_email("e6@example.com");
    pv1::Person p;
    ASSERT_THAT(stub_->LookupPerson(&ctx, req, &p), GrpcOk());
    EXPECT_EQ(p.external_id(), "E6");
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, employee);
    pv1::ListTeamsResponse teams;
    ASSERT_THAT(stub_->ListTeams(&ctx, pv1::ListTeamsRequest(), &teams),
                GrpcOk());
    EXPECT_EQ(teams.teams_size(), 3);
  }
  {  // and may watch: it sees the next change.
    grpc::ClientContext ctx;
    Authorize(&ctx, employee);
    auto reader = stub_->WatchPeople(&ctx, pv1::WatchPeopleRequest());
    reader->WaitForInitialMetadata();
    pv1::SyncPeopleResponse resp;
    ASSERT_THAT(cluster_->Sync(Incremental(), {PersonMsg("E7", "E1")}, &resp),
                GrpcOk());
    pv1::WatchPeopleResponse event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.change_type(), pv1::WatchPeopleResponse::CREATED);
    EXPECT_EQ(event.person().external_id(), "E7");
    ctx.TryCancel();
    EXPECT_THAT(reader->Finish(), GrpcStatusIs(grpc::StatusCode::CANCELLED));
  }
  // Valid, but not allowed: PERMISSION_DENIED rather than UNAUTHENTICATED.
  pv1::SyncPeopleResponse denied;
  EXPECT_THAT(
      cluster_->Sync(Incremental(), {PersonMsg("E8", "E1")}, &denied, employee),
      GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  grpc::ClientContext ctx;
  Authorize(&ctx, employee);
  pv1::LookupPersonRequest req;
  req.set_external_id("E8");
  pv1::Person p;
  EXPECT_THAT(stub_->LookupPerson(&ctx, req, &p),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_F(PeopleAuthTest, HealthAnswersWithoutAToken) {
  auto health =
      grpc::health::v1::Health::NewStub(cluster_->service().Channel());
  for (const std::string service : {"", "sightline.people.v1.PeopleService"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_THAT(health->Check(&ctx, req, &resp), GrpcOk()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
  // An unknown service is NOT_FOUND, not an authentication failure.
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse resp;
  EXPECT_THAT(health->Check(&ctx, req, &resp),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

}  // namespace
}  // namespace sightline::testing
