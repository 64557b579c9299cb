#include "lib/org/directory_org.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lib/auth/principal.h"
#include "lib/org/access.h"
#include "lib/server/client.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

namespace sightline::org {
namespace {

namespace pv1 = people::v1;
using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

pv1::Person MakePerson(const std::string& id, const std::string& team,
                       const std::string& manager,
                       pv1::Person::Status status = pv1::Person::ACTIVE) {
  pv1::Person p;
  p.set_name(absl::StrCat("people/", id));
  p.set_email(absl::StrCat(id, "@example.com"));
  p.set_external_id(absl::StrCat("E-", id));
  if (!team.empty()) p.set_team(absl::StrCat("teams/", team));
  if (!manager.empty()) p.set_manager(absl::StrCat("people/", manager));
  p.set_status(status);
  return p;
}

pv1::Team MakeTeam(const std::string& id, const std::string& parent,
                   const std::string& lead) {
  pv1::Team t;
  t.set_name(absl::StrCat("teams/", id));
  if (!parent.empty()) t.set_parent(absl::StrCat("teams/", parent));
  if (!lead.empty()) t.set_lead(absl::StrCat("people/", lead));
  return t;
}

// The people service's answers to the fresh calls; UNAVAILABLE while "down".
class FakePeople : public pv1::PeopleService::Service {
 public:
  void Add(const pv1::Person& p) { people_[p.name()] = p; }
  void Add(const pv1::Team& t) { teams_[t.name()] = t; }
  void set_down(bool down) { down_ = down; }

  grpc::Status GetPerson(grpc::ServerContext*, const pv1::GetPersonRequest* req,
                         pv1::Person* resp) override {
    if (down_) return Down();
    auto it = people_.find(req->name());
    if (it == people_.end()) return NotFound(req->name());
    *resp = it->second;
    return grpc::Status::OK;
  }
  grpc::Status LookupPerson(grpc::ServerContext*,
                            const pv1::LookupPersonRequest* req,
                            pv1::Person* resp) override {
    if (down_) return Down();
    for (const auto& [name, p] : people_) {
      if ((req->has_email() && p.email() == req->email()) ||
          (req->has_external_id() && p.external_id() == req->external_id())) {
        *resp = p;
        return grpc::Status::OK;
      }
    }
    return NotFound("person");
  }
  grpc::Status BatchGetPeople(grpc::ServerContext*,
                              const pv1::BatchGetPeopleRequest* req,
                              pv1::BatchGetPeopleResponse* resp) override {
    if (down_) return Down();
    for (const auto& name : req->names()) {
      auto it = people_.find(name);
      if (it == people_.end()) return NotFound(name);
      *resp->add_people() = it->second;
    }
    return grpc::Status::OK;
  }
  grpc::Status GetTeam(grpc::ServerContext*, const pv1::GetTeamRequest* req,
                       pv1::Team* resp) override {
    if (down_) return Down();
    auto it = teams_.find(req->name());
    if (it == teams_.end()) return NotFound(req->name());
    *resp = it->second;
    return grpc::Status::OK;
  }
  grpc::Status GetReportingChain(
      grpc::ServerContext*, const pv1::GetReportingChainRequest* req,
      pv1::GetReportingChainResponse* resp) override {
    if (down_) return Down();
    auto it = people_.find(req->name());
    if (it == people_.end()) return NotFound(req->name());
    for (std::string m = it->second.manager(); !m.empty();) {
      auto mit = people_.find(m);
      if (mit == people_.end() || resp->managers_size() > 10) break;
      *resp->add_managers() = mit->second;
      m = mit->second.manager();
    }
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Down() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down (test)");
  }
  static grpc::Status NotFound(const std::string& what) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, what + " not found");
  }

  // Written before the server starts or while no call is in flight.
  std::map<std::string, pv1::Person> people_;
  std::map<std::string, pv1::Team> teams_;
  std::atomic<bool> down_{false};
};

// The replica holds platform (lead leo) with its sub-team storage, and
// ceo <- mona <- owen, pat, gone (terminated), stella <- sam. The people
// service also knows "newbie", a hire the replica has not seen yet.
class DirectoryOrgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<pv1::Team> teams = {MakeTeam("platform", "", "leo"),
                                          MakeTeam("storage", "platform", "")};
    const std::vector<pv1::Person> people = {
        MakePerson("ceo", "", ""),
        MakePerson("leo", "platform", "ceo"),
        MakePerson("mona", "platform", "ceo"),
        MakePerson("owen", "platform", "mona"),
        MakePerson("pat", "platform", "mona"),
        MakePerson("gone", "platform", "mona", pv1::Person::TERMINATED),
        MakePerson("stella", "storage", "mona"),
        MakePerson("sam", "storage", "stella"),
    };
    for (const auto& t : teams) people_.Add(t);
    for (const auto& p : people) people_.Add(p);
    people_.Add(MakePerson("newbie", "storage", "stella"));

    server_ = testing::ServeOnLoopback(&people_, &port_);
    ASSERT_NE(server_, nullptr);
    auto token = server::ServiceToken::SelfSigned(
        "service:test", "0123456789abcdef0123456789abcdef", "sightline",
        "sightline");
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *std::move(token);
    directory::DirectoryOptions options;
    options.call_timeout = absl::Seconds(5);
    dir_ = std::make_unique<directory::Directory>(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                            grpc::InsecureChannelCredentials()),
        token_.get(), options);
    // The replica, as the loader would fill it (no Start: no Watch stream).
    for (const auto& t : teams) dir_->Apply(t);
    for (const auto& p : people) dir_->Apply(p);
    org_ = std::make_unique<DirectoryOrg>(dir_.get());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  static auth::Principal As(const std::string& subject,
                            std::vector<auth::Role> roles = {
                                auth::Role::kEmployee}) {
    auth::Principal p;
    p.subject = subject;
    p.roles = std::move(roles);
    return p;
  }

  FakePeople people_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<server::ServiceToken> token_;
  std::unique_ptr<directory::Directory> dir_;
  std::unique_ptr<DirectoryOrg> org_;
};

TEST_F(DirectoryOrgTest, ViewReadsTheReplica) {
  const std::optional<PersonInfo> owen = org_->Person("owen");
  ASSERT_TRUE(owen.has_value());
  EXPECT_EQ(owen->id, "owen");
  EXPECT_EQ(owen->team_id, "platform");
  EXPECT_EQ(owen->manager_id, "mona");
  EXPECT_TRUE(owen->active);
  ASSERT_TRUE(org_->Person("gone").has_value());
  EXPECT_FALSE(org_->Person("gone")->active);
  EXPECT_FALSE(org_->Person("newbie").has_value());  // not replicated yet

  const std::optional<TeamInfo> storage = org_->Team("storage");
  ASSERT_TRUE(storage.has_value());
  EXPECT_EQ(storage->parent_id, "platform");
  EXPECT_EQ(storage->lead_id, "");
  EXPECT_EQ(org_->Team("platform")->lead_id, "leo");
  EXPECT_FALSE(org_->Team("nowhere").has_value());

  // The org walks and rules run over it like over any view.
  EXPECT_THAT(ManagementChain(*org_, "sam"),
              ElementsAre("stella", "mona", "ceo"));
  EXPECT_TRUE(IsTeamOrSubTeam(*org_, "storage", "platform"));
  Owned owned;
  owned.owner_team_id = "platform";
  owned.visibility = Visibility::kPrivate;
  EXPECT_TRUE(CanEdit(Caller{.person_id = "ceo"}, owned, *org_));
  EXPECT_FALSE(CanRead(Caller{.person_id = "owen"}, owned, *org_));
}

TEST_F(DirectoryOrgTest, TeamMembersAndReportsAreActivePeople) {
  EXPECT_THAT(org_->TeamMembers("platform"),
              ElementsAre("leo", "mona", "owen", "pat", "sam", "stella"));
  EXPECT_THAT(org_->TeamMembers("storage"), ElementsAre("sam", "stella"));
  EXPECT_THAT(org_->TeamMembers("nowhere"), IsEmpty());
  EXPECT_THAT(org_->Reports("mona", /*all_levels=*/false),
              ElementsAre("owen", "pat", "stella"));
  EXPECT_THAT(org_->Reports("mona", /*all_levels=*/true),
              ElementsAre("owen", "pat", "sam", "stella"));
}

TEST_F(DirectoryOrgTest, ResolveCallerFromTheReplica) {
  people_.set_down(true);  // the replica alone answers
  auto owen = org_->ResolveCaller(As("people/owen"), /*fresh=*/true);
  ASSERT_THAT(owen.status(), IsOk());
  EXPECT_EQ(owen->person_id, "owen");
  EXPECT_FALSE(owen->hr_admin);
  EXPECT_FALSE(owen->service);

  auto by_email = org_->ResolveCaller(
      As("mona@example.com", {auth::Role::kEmployee, auth::Role::kHrAdmin}),
      /*fresh=*/false);
  ASSERT_THAT(by_email.status(), IsOk());
  EXPECT_EQ(by_email->person_id, "mona");
  EXPECT_TRUE(by_email->hr_admin);

  auto by_external = org_->ResolveCaller(As("E-pat"), /*fresh=*/false);
  ASSERT_THAT(by_external.status(), IsOk());
  EXPECT_EQ(by_external->person_id, "pat");
}

TEST_F(DirectoryOrgTest, ResolveCallerOfSomeoneTheReplicaDoesNotKnow) {
  // Reads do not ask: an unknown subject is a caller with no person.
  auto stale = org_->ResolveCaller(As("newbie@example.com"), /*fresh=*/false);
  ASSERT_THAT(stale.status(), IsOk());
  EXPECT_EQ(stale->person_id, "");

  // Writes ask the people service.
  auto fresh = org_->ResolveCaller(As("newbie@example.com"), /*fresh=*/true);
  ASSERT_THAT(fresh.status(), IsOk());
  EXPECT_EQ(fresh->person_id, "newbie");

  auto nobody = org_->ResolveCaller(As("people/nobody"), /*fresh=*/true);
  ASSERT_THAT(nobody.status(), IsOk());
  EXPECT_EQ(nobody->person_id, "");

  // A service is no person: the people service is not asked, even when down.
  people_.set_down(true);
  auto service =
      org_->ResolveCaller(As("service:crm", {auth::Role::kService}), true);
  ASSERT_THAT(service.status(), IsOk());
  EXPECT_TRUE(service->service);
  EXPECT_EQ(service->person_id, "");

  EXPECT_THAT(
      org_->ResolveCaller(As("stranger@example.com"), /*fresh=*/true).status(),
      StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(DirectoryOrgTest, ValidateTeamNamesTheField) {
  EXPECT_THAT(org_->ValidateTeam("storage", "goal.owner"), IsOk());
  EXPECT_THAT(org_->ValidateTeam("nowhere", "goal.owner"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("teams/nowhere does not exist")));
  people_.set_down(true);
  EXPECT_THAT(org_->ValidateTeam("storage", "goal.owner"),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(DirectoryOrgTest, ValidatePeopleAsksThePeopleService) {
  EXPECT_THAT(org_->ValidatePeople({"owen", "newbie"}, {"a", "b"}), IsOk());
  EXPECT_THAT(org_->ValidatePeople({"owen", "nobody"}, {"a", "b"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(org_->ValidatePeople({"gone"}, {"a"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  people_.set_down(true);
  EXPECT_THAT(org_->ValidatePeople({"owen"}, {"a"}),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(DirectoryOrgTest, FreshManagementChainAsksThePeopleService) {
  auto chain = org_->FreshManagementChain("newbie");
  ASSERT_THAT(chain.status(), IsOk());
  EXPECT_THAT(*chain, ElementsAre("stella", "mona", "ceo"));
  people_.set_down(true);
  EXPECT_THAT(org_->FreshManagementChain("owen").status(),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace sightline::org
