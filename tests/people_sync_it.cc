// SyncPeople through the real binary, on SQLite and on PostgreSQL.

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class PeopleSyncTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    auto c = PeopleCluster::Start(GetParam());
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
  }

  grpc::Status List(pv1::ListPeopleResponse* resp, int page_size = 1000) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::ListPeopleRequest req;
    req.set_page_size(page_size);
    return stub_->ListPeople(&ctx, req, resp);
  }

  grpc::Status Lookup(const std::string& ext, pv1::Person* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::LookupPersonRequest req;
    req.set_external_id(ext);
    return stub_->LookupPerson(&ctx, req, out);
  }

  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
};

TEST_P(PeopleSyncTest, DryRunShowsTheDiffAndChangesNothing) {
  auto options = Full();
  options.set_dry_run(true);
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(options, OrgRecords(20), &resp), GrpcOk());
  EXPECT_FALSE(resp.applied());
  EXPECT_EQ(resp.people().created(), 20);
  EXPECT_EQ(resp.teams().created(), 3);
  ASSERT_GT(resp.changes_size(), 0);
  EXPECT_EQ(resp.changes(0).kind(), pv1::SyncPeopleResponse::Change::CREATED);
  EXPECT_TRUE(resp.changes(0).name().empty());  // nothing was created
  pv1::ListPeopleResponse list;
  ASSERT_THAT(List(&list), GrpcOk());
  EXPECT_EQ(list.people_size(), 0);
}

TEST_P(PeopleSyncTest, ApplyCreatesTheOrgWithItsReportingLines) {
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(31), &resp), GrpcOk());
  EXPECT_TRUE(resp.applied());
  EXPECT_EQ(resp.people().created(), 31);
  EXPECT_FALSE(resp.resume_token().empty());
  pv1::Person e30, e5;
  ASSERT_THAT(Lookup("E30", &e30), GrpcOk());
  ASSERT_THAT(Lookup("E5", &e5), GrpcOk());
  EXPECT_EQ(e30.manager(), e5.name());  // (30 - 1) / 5 = 5
  EXPECT_EQ(e30.status(), pv1::Person::ACTIVE);
  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken());
  pv1::GetReportingChainRequest req;
  req.set_name(e30.name());
  pv1::GetReportingChainResponse chain;
  ASSERT_THAT(stub_->GetReportingChain(&ctx, req, &chain), GrpcOk());
  ASSERT_EQ(chain.managers_size(), 2);  // E5, then E0
  EXPECT_EQ(chain.managers(0).external_id(), "E5");
  EXPECT_EQ(chain.managers(1).external_id(), "E0");
}

TEST_P(PeopleSyncTest, ResendingTheSameRosterChangesNothingAndEmitsNoEvents) {
  pv1::SyncPeopleResponse first, second;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(25), &first), GrpcOk());
  pv1::Person before;
  ASSERT_THAT(Lookup("E7", &before), GrpcOk());
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(25), &second), GrpcOk());
  EXPECT_EQ(second.people().created(), 0);
  EXPECT_EQ(second.people().updated(), 0);
  EXPECT_EQ(second.people().terminated(), 0);
  EXPECT_EQ(second.people().unchanged(), 25);
  EXPECT_EQ(second.changes_size(), 0);
  // The feed position did not move: no change events were written.
  EXPECT_EQ(second.resume_token(), first.resume_token());
  pv1::Person after;
  ASSERT_THAT(Lookup("E7", &after), GrpcOk());
  EXPECT_EQ(after.etag(), before.etag());
  EXPECT_EQ(after.update_time().seconds(), before.update_time().seconds());
}

TEST_P(PeopleSyncTest, FullSyncTerminatesLeaversAndGuardsMassTermination) {
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(10, 5, 0), &resp), GrpcOk());
  // 3 of 10 would leave: above the default 20%.
  auto seven = OrgRecords(7, 5, 0);
  grpc::Status refused = cluster_->Sync(Full(), seven, &resp);
  EXPECT_THAT(refused, GrpcStatusIs(grpc::StatusCode::FAILED_PRECONDITION,
                                    HasSubstr("terminate 3 of 10")));
  EXPECT_EQ(ErrorReason(refused), "MASS_TERMINATION");
  pv1::Person e9;
  ASSERT_THAT(Lookup("E9", &e9), GrpcOk());
  EXPECT_EQ(e9.status(), pv1::Person::ACTIVE);  // nothing applied

  auto allowed = Full();
  allowed.set_allow_mass_termination(true);
  allowed.set_effective_date("2026-11-30");
  ASSERT_THAT(cluster_->Sync(allowed, seven, &resp), GrpcOk());
  EXPECT_EQ(resp.people().terminated(), 3);
  ASSERT_THAT(Lookup("E9", &e9), GrpcOk());
  EXPECT_EQ(e9.status(), pv1::Person::TERMINATED);
  EXPECT_EQ(e9.end_date(), "2026-11-30");

  // One leaver of nine is within the share.
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(6, 5, 0), &resp), GrpcOk());
  EXPECT_EQ(resp.people().terminated(), 1);
}

TEST_P(PeopleSyncTest, ManagerCycleAndUnknownManagerAreRejectedWithRowErrors) {
  std::vector<pv1::SyncPeopleRequest> records = {
      PersonMsg("A", "C"), PersonMsg("B", "A"), PersonMsg("C", "B"),
      PersonMsg("D", "GHOST"), PersonMsg("E", "")};
  records[3].mutable_person()->set_source_row(42);
  pv1::SyncPeopleResponse resp;
  grpc::Status s = cluster_->Sync(Incremental(), records, &resp);
  ASSERT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(s),
              UnorderedElementsAre("records[0].manager_external_id",
                                   "records[1].manager_external_id",
                                   "records[2].manager_external_id",
                                   "records[3].manager_external_id"));
  EXPECT_THAT(s.error_message(), HasSubstr("cycle"));
  // All or nothing: E, which was fine, was not created either.
  pv1::ListPeopleResponse list;
  ASSERT_THAT(List(&list), GrpcOk());
  EXPECT_EQ(list.people_size(), 0);
}

TEST_P(PeopleSyncTest, RequestIdMakesARetryReturnTheFirstAnswer) {
  auto options = Full();
  options.set_request_id("hris-run-2026-11-23");
  pv1::SyncPeopleResponse first, retry;
  ASSERT_THAT(cluster_->Sync(options, OrgRecords(12), &first), GrpcOk());
  ASSERT_THAT(cluster_->Sync(options, OrgRecords(12), &retry), GrpcOk());
  EXPECT_EQ(retry.people().created(),
            12);  // the first answer, not "12 unchanged"
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  // Same id, other content: refused, naming the field.
  grpc::Status reuse = cluster_->Sync(options, OrgRecords(13), &retry);
  EXPECT_THAT(reuse, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                  HasSubstr("request_id")));
}

TEST_P(PeopleSyncTest, OnlyHrAdminAndServicesMaySync) {
  pv1::SyncPeopleResponse resp;
  EXPECT_THAT(
      cluster_->Sync(Full(), OrgRecords(3), &resp, cluster_->EmployeeToken()),
      GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  std::string manager =
      cluster_->tokens().Mint("lead@example.com", {auth::Role::kManager});
  EXPECT_THAT(cluster_->Sync(Full(), OrgRecords(3), &resp, manager),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(
      cluster_->Sync(Full(), OrgRecords(3), &resp, cluster_->ServiceToken()),
      GrpcOk());
}

TEST_P(PeopleSyncTest, MalformedStreamsNameTheProblem) {
  auto stub = cluster_->Stub();
  auto run = [&](std::vector<pv1::SyncPeopleRequest> msgs) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->AdminToken());
    pv1::SyncPeopleResponse resp;
    auto writer = stub->SyncPeople(&ctx, &resp);
    for (const auto& m : msgs) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  };
  pv1::SyncPeopleRequest options;
  *options.mutable_options() = Full();
  EXPECT_THAT(
      run({PersonMsg("A", "")}),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("options")));
  EXPECT_THAT(run({}), GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                    HasSubstr("options")));
  EXPECT_THAT(
      run({options, PersonMsg("A", ""), options}),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("options")));
  pv1::SyncPeopleRequest no_mode;
  no_mode.mutable_options();
  EXPECT_THAT(run({no_mode}), GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                           HasSubstr("options.mode")));
  pv1::SyncPeopleRequest bad_date = options;
  bad_date.mutable_options()->set_effective_date("30/11/2026");
  EXPECT_THAT(run({bad_date}),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           HasSubstr("options.effective_date")));
  pv1::SyncPeopleRequest bad_id = options;
  bad_id.mutable_options()->set_request_id("has spaces");
  EXPECT_THAT(run({bad_id}), GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                          HasSubstr("options.request_id")));
  pv1::SyncPeopleRequest empty_item;
  EXPECT_THAT(run({options, empty_item}),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           HasSubstr("records[0]")));
}

TEST_P(PeopleSyncTest, EmailsCanMoveBetweenPeopleInOneSync) {
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(3, 5, 0), &resp), GrpcOk());
  auto records = OrgRecords(3, 5, 0);
  records[1].mutable_person()->set_email("E2@example.com");
  records[2].mutable_person()->set_email("E1@example.com");
  ASSERT_THAT(cluster_->Sync(Full(), records, &resp), GrpcOk());
  EXPECT_EQ(resp.people().updated(), 2);
  pv1::Person e1;
  ASSERT_THAT(Lookup("E1", &e1), GrpcOk());
  EXPECT_EQ(e1.email(), "e2@example.com");
}

INSTANTIATE_TEST_SUITE_P(Db, PeopleSyncTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
