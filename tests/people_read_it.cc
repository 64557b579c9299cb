// The read side of the people service through the real binary, on SQLite and
// on PostgreSQL: pagination, filters, the org tree, lookups, teams, etags and
// the validation of every request field.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::ResultOf;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

// INVALID_ARGUMENT whose message and BadRequest details name `field`.
::testing::Matcher<grpc::Status> InvalidField(const std::string& field) {
  return AllOf(GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                            HasSubstr(absl::StrCat(field, ": "))),
               ResultOf(ViolatedFields, Contains(field)));
}

std::string Ext(int i) { return absl::StrCat("E", i); }
int ManagerOf(int i, int fanout = 5) { return (i - 1) / fanout; }

// The org of OrgRecords(n), with some people on leave and some terminated so
// that status filters have something to tell apart.
struct Org {
  std::vector<pv1::SyncPeopleRequest> records;
  std::map<std::string, pv1::Person::Status> status;  // by external id
  std::map<std::string, std::string> team;            // by external id
  std::map<std::string, std::string> manager;         // by external id
};

Org MakeOrg(int n) {
  Org org;
  org.records = OrgRecords(n);
  for (auto& r : org.records) {
    if (!r.has_person()) continue;
    auto* p = r.mutable_person();
    int i = std::stoi(p->external_id().substr(1));
    pv1::Person::Status status = pv1::Person::ACTIVE;
    if (i > 0 && i % 7 == 3) {
      status = pv1::Person::ON_LEAVE;
    } else if (i > 0 && i % 11 == 5) {
      status = pv1::Person::TERMINATED;
      p->set_end_date("2025-06-30");
    }
    if (status != pv1::Person::ACTIVE) p->set_status(status);
    org.status[p->external_id()] = status;
    org.team[p->external_id()] = p->team_external_id();
    org.manager[p->external_id()] = p->manager_external_id();
  }
  return org;
}

// Everyone below `ext` in the org of MakeOrg, at any depth.
std::set<std::string> Below(const Org& org, const std::string& ext) {
  std::set<std::string> out;
  std::vector<std::string> todo = {ext};
  while (!todo.empty()) {
    std::string m = todo.back();
    todo.pop_back();
    for (const auto& [person, manager] : org.manager) {
      if (manager == m && out.insert(person).second) todo.push_back(person);
    }
  }
  return out;
}

class PeopleReadTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    auto c = PeopleCluster::Start(GetParam());
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
  }

  // Syncs `org` and learns the names the server gave to people and teams.
  void Seed(const Org& org) {
    pv1::SyncPeopleResponse resp;
    ASSERT_THAT(cluster_->Sync(Full(), org.records, &resp), GrpcOk());
    ASSERT_EQ(resp.people().created(), static_cast<int>(org.status.size()));
    LearnNames();
  }

  void LearnNames() {
    person_.clear();
    ext_of_.clear();
    std::string token;
    for (int page = 0; page < 100; ++page) {
      pv1::ListPeopleRequest req;
      req.set_page_size(1000);
      req.set_page_token(token);
      pv1::ListPeopleResponse resp;
      ASSERT_THAT(ListPeople(req, &resp), GrpcOk());
      for (const auto& p : resp.people()) {
        person_[p.external_id()] = p.name();
        ext_of_[p.name()] = p.external_id();
      }
      token = resp.next_page_token();
      if (token.empty()) break;
    }
    ASSERT_TRUE(token.empty());
    pv1::ListTeamsRequest req;
    req.set_page_size(1000);
    pv1::ListTeamsResponse resp;
    ASSERT_THAT(ListTeams(req, &resp), GrpcOk());
    ASSERT_TRUE(resp.next_page_token().empty());
    for (const auto& t : resp.teams()) team_[t.external_id()] = t.name();
  }

  grpc::Status ListPeople(const pv1::ListPeopleRequest& req,
                          pv1::ListPeopleResponse* resp) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    return stub_->ListPeople(&ctx, req, resp);
  }
  grpc::Status ListReports(const pv1::ListReportsRequest& req,
                           pv1::ListReportsResponse* resp) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    return stub_->ListReports(&ctx, req, resp);
  }
  grpc::Status ListTeams(const pv1::ListTeamsRequest& req,
                         pv1::ListTeamsResponse* resp) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    return stub_->ListTeams(&ctx, req, resp);
  }
  grpc::Status GetPerson(const std::string& name, pv1::Person* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::GetPersonRequest req;
    req.set_name(name);
    return stub_->GetPerson(&ctx, req, out);
  }
  grpc::Status GetTeam(const std::string& name, pv1::Team* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::GetTeamRequest req;
    req.set_name(name);
    return stub_->GetTeam(&ctx, req, out);
  }
  grpc::Status Lookup(const pv1::LookupPersonRequest& req, pv1::Person* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    return stub_->LookupPerson(&ctx, req, out);
  }
  grpc::Status BatchGet(const std::vector<std::string>& names,
                        pv1::BatchGetPeopleResponse* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::BatchGetPeopleRequest req;
    for (const auto& n : names) req.add_names(n);
    return stub_->BatchGetPeople(&ctx, req, out);
  }
  grpc::Status Chain(const std::string& name,
                     pv1::GetReportingChainResponse* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::GetReportingChainRequest req;
    req.set_name(name);
    return stub_->GetReportingChain(&ctx, req, out);
  }

  // Pages through ListPeople with `req`'s filters; the external ids in the
  // order served, and the size of each page.
  void ListAllPeople(pv1::ListPeopleRequest req, std::vector<std::string>* ids,
                     std::vector<int>* pages) {
    for (int i = 0; i < 100; ++i) {
      pv1::ListPeopleResponse resp;
      ASSERT_THAT(ListPeople(req, &resp), GrpcOk());
      pages->push_back(resp.people_size());
      for (const auto& p : resp.people()) ids->push_back(p.external_id());
      if (resp.next_page_token().empty()) return;
      req.set_page_token(resp.next_page_token());
    }
    FAIL() << "ListPeople never reached its last page";
  }
  void ListAllReports(pv1::ListReportsRequest req,
                      std::vector<std::string>* ids, std::vector<int>* pages) {
    for (int i = 0; i < 100; ++i) {
      pv1::ListReportsResponse resp;
      ASSERT_THAT(ListReports(req, &resp), GrpcOk());
      pages->push_back(resp.people_size());
      for (const auto& p : resp.people()) ids->push_back(p.external_id());
      if (resp.next_page_token().empty()) return;
      req.set_page_token(resp.next_page_token());
    }
    FAIL() << "ListReports never reached its last page";
  }

  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
  std::map<std::string, std::string> person_;  // external id -> name
  std::map<std::string, std::string> ext_of_;  // name -> external id
  std::map<std::string, std::string> team_;    // external id -> name
};

TEST_P(PeopleReadTest, ListPeoplePagesThroughEveryoneExactlyOnce) {
  Org org = MakeOrg(250);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  pv1::ListPeopleRequest req;
  req.set_page_size(100);
  std::vector<std::string> ids;
  std::vector<int> pages;
  ASSERT_NO_FATAL_FAILURE(ListAllPeople(req, &ids, &pages));
  EXPECT_THAT(pages, ElementsAre(100, 100, 50));
  std::vector<std::string> want;
  for (int i = 0; i < 250; ++i) want.push_back(Ext(i));
  EXPECT_THAT(ids, UnorderedElementsAreArray(want));  // each exactly once
  // A stable order: by resource name.
  std::vector<std::string> names;
  for (const auto& id : ids) names.push_back(person_[id]);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));

  // 0 means the default page of 100.
  pv1::ListPeopleResponse first;
  ASSERT_THAT(ListPeople(pv1::ListPeopleRequest(), &first), GrpcOk());
  EXPECT_EQ(first.people_size(), 100);
  EXPECT_FALSE(first.next_page_token().empty());
}

TEST_P(PeopleReadTest, FiltersReturnExactlyTheMatchingPeopleAcrossPages) {
  Org org = MakeOrg(250);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  auto expect = [&](auto keep) {
    std::vector<std::string> out;
    for (const auto& [ext, status] : org.status) {
      if (keep(ext)) out.push_back(ext);
    }
    return out;
  };

  {  // team T1: 83 people, 3 pages of 30.
    pv1::ListPeopleRequest req;
    req.set_team(team_["T1"]);
    req.set_page_size(30);
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(ListAllPeople(req, &ids, &pages));
    auto want =
        expect([&](const std::string& e) { return org.team[e] == "T1"; });
    ASSERT_EQ(want.size(), 83u);
    EXPECT_THAT(ids, UnorderedElementsAreArray(want));
    EXPECT_THAT(pages, ElementsAre(30, 30, 23));
  }
  {  // manager E1: E6..E10, 3 pages of 2.
    pv1::ListPeopleRequest req;
    req.set_manager(person_["E1"]);
    req.set_page_size(2);
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(ListAllPeople(req, &ids, &pages));
    EXPECT_THAT(ids, UnorderedElementsAre("E6", "E7", "E8", "E9", "E10"));
    EXPECT_THAT(pages, ElementsAre(2, 2, 1));
  }
  for (auto status :
       {pv1::Person::ACTIVE, pv1::Person::ON_LEAVE, pv1::Person::TERMINATED}) {
    pv1::ListPeopleRequest req;
    req.set_status(status);
    req.set_page_size(20);
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(ListAllPeople(req, &ids, &pages));
    auto want =
        expect([&](const std::string& e) { return org.status[e] == status; });
    ASSERT_FALSE(want.empty());
    EXPECT_THAT(ids, UnorderedElementsAreArray(want))
        << pv1::Person::Status_Name(status);
    EXPECT_EQ(pages.size(), (want.size() + 19) / 20);
  }
  {  // all three at once: E1's reports E6..E10, in T1 E7 and E10, and E10
     // is on leave.
    pv1::ListPeopleRequest req;
    req.set_team(team_["T1"]);
    req.set_manager(person_["E1"]);
    req.set_status(pv1::Person::ACTIVE);
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(ListAllPeople(req, &ids, &pages));
    auto want = expect([&](const std::string& e) {
      return org.team[e] == "T1" && org.manager[e] == "E1" &&
             org.status[e] == pv1::Person::ACTIVE;
    });
    EXPECT_THAT(want, ElementsAre("E7"));
    EXPECT_THAT(ids, ElementsAreArray(want));
  }
  {  // a filter nobody matches: one empty, final page
    pv1::ListPeopleRequest req;
    req.set_manager(person_["E249"]);
    pv1::ListPeopleResponse resp;
    ASSERT_THAT(ListPeople(req, &resp), GrpcOk());
    EXPECT_EQ(resp.people_size(), 0);
    EXPECT_TRUE(resp.next_page_token().empty());
  }
}

TEST_P(PeopleReadTest, PageTokensAreBoundToTheirRequestAndTamperEvident) {
  Org org = MakeOrg(250);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  pv1::ListPeopleRequest req;
  req.set_team(team_["T0"]);
  req.set_page_size(10);
  pv1::ListPeopleResponse resp;
  ASSERT_THAT(ListPeople(req, &resp), GrpcOk());
  const std::string token = resp.next_page_token();
  ASSERT_FALSE(token.empty());

  // The same filters: the next page follows.
  pv1::ListPeopleRequest next = req;
  next.set_page_token(token);
  pv1::ListPeopleResponse page2;
  ASSERT_THAT(ListPeople(next, &page2), GrpcOk());
  ASSERT_EQ(page2.people_size(), 10);
  EXPECT_GT(page2.people(0).name(), resp.people(9).name());

  // A page size is not a filter: another size goes on from the same place.
  next.set_page_size(3);
  ASSERT_THAT(ListPeople(next, &page2), GrpcOk());

  pv1::ListPeopleRequest other = next;
  other.set_team(team_["T1"]);
  EXPECT_THAT(ListPeople(other, &page2), InvalidField("page_token"));
  other = next;
  other.clear_team();
  EXPECT_THAT(ListPeople(other, &page2), InvalidField("page_token"));
  other = next;
  other.set_status(pv1::Person::ON_LEAVE);
  EXPECT_THAT(ListPeople(other, &page2), InvalidField("page_token"));
  other = next;
  other.set_manager(person_["E0"]);
  EXPECT_THAT(ListPeople(other, &page2), InvalidField("page_token"));

  // Another method does not take it either.
  pv1::ListTeamsRequest teams;
  teams.set_page_token(token);
  pv1::ListTeamsResponse teams_resp;
  EXPECT_THAT(ListTeams(teams, &teams_resp), InvalidField("page_token"));

  // One character changed anywhere, or garbage: refused.
  // (Not the last character: some of its bits are padding.)
  for (size_t pos : {size_t{0}, token.size() / 2, token.size() - 2}) {
    std::string tampered = token;
    tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
    pv1::ListPeopleRequest bad = req;
    bad.set_page_token(tampered);
    EXPECT_THAT(ListPeople(bad, &page2), InvalidField("page_token"))
        << "changed at " << pos;
  }
  pv1::ListPeopleRequest bad = req;
  bad.set_page_token("not a token");
  EXPECT_THAT(ListPeople(bad, &page2), InvalidField("page_token"));
  bad.set_page_token(token + "AAAA");
  EXPECT_THAT(ListPeople(bad, &page2), InvalidField("page_token"));
}

TEST_P(PeopleReadTest, PageSizeIsValidatedAndCappedAtOneThousand) {
  // 1001 people, no teams: the cap shows as a full page plus one.
  pv1::SyncPeopleResponse sync;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(1001, 5, 0), &sync), GrpcOk());
  ASSERT_EQ(sync.people().created(), 1001);

  pv1::ListPeopleRequest req;
  req.set_page_size(-1);
  pv1::ListPeopleResponse resp;
  EXPECT_THAT(ListPeople(req, &resp), InvalidField("page_size"));
  pv1::ListTeamsRequest teams;
  teams.set_page_size(-5);
  pv1::ListTeamsResponse teams_resp;
  EXPECT_THAT(ListTeams(teams, &teams_resp), InvalidField("page_size"));

  req.set_page_size(5000);
  ASSERT_THAT(ListPeople(req, &resp), GrpcOk());
  EXPECT_EQ(resp.people_size(), 1000);
  ASSERT_FALSE(resp.next_page_token().empty());
  req.set_page_token(resp.next_page_token());
  pv1::ListPeopleResponse last;
  ASSERT_THAT(ListPeople(req, &last), GrpcOk());
  EXPECT_EQ(last.people_size(), 1);
  EXPECT_TRUE(last.next_page_token().empty());

  pv1::ListReportsRequest reports;
  ASSERT_NO_FATAL_FAILURE(LearnNames());
  reports.set_name(person_["E0"]);
  reports.set_all_levels(true);
  reports.set_page_size(5000);
  pv1::ListReportsResponse reports_resp;
  ASSERT_THAT(ListReports(reports, &reports_resp), GrpcOk());
  EXPECT_EQ(reports_resp.people_size(), 1000);  // all 1000 below E0
  EXPECT_TRUE(reports_resp.next_page_token().empty());
  reports.set_page_size(-1);
  EXPECT_THAT(ListReports(reports, &reports_resp), InvalidField("page_size"));
}

TEST_P(PeopleReadTest, ListReportsDirectAndAtAllLevels) {
  Org org = MakeOrg(250);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  auto list = [&](const std::string& ext, bool all_levels, int page_size,
                  pv1::Person::Status status, std::vector<std::string>* ids,
                  std::vector<int>* pages) {
    pv1::ListReportsRequest req;
    req.set_name(person_[ext]);
    req.set_all_levels(all_levels);
    req.set_page_size(page_size);
    req.set_status(status);
    ListAllReports(req, ids, pages);
  };
  {  // E0: 5 direct reports, everyone else below.
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(
        list("E0", false, 2, pv1::Person::STATUS_UNSPECIFIED, &ids, &pages));
    EXPECT_THAT(ids, UnorderedElementsAre("E1", "E2", "E3", "E4", "E5"));
    EXPECT_THAT(pages, ElementsAre(2, 2, 1));
    ids.clear();
    pages.clear();
    ASSERT_NO_FATAL_FAILURE(
        list("E0", true, 100, pv1::Person::STATUS_UNSPECIFIED, &ids, &pages));
    EXPECT_EQ(ids.size(), 249u);
    EXPECT_THAT(ids, UnorderedElementsAreArray(Below(org, "E0")));
    EXPECT_THAT(pages, ElementsAre(100, 100, 49));
  }
  {  // E1: E6..E10 directly, three levels in all.
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(
        list("E1", false, 0, pv1::Person::STATUS_UNSPECIFIED, &ids, &pages));
    EXPECT_THAT(ids, UnorderedElementsAre("E6", "E7", "E8", "E9", "E10"));
    ids.clear();
    pages.clear();
    ASSERT_NO_FATAL_FAILURE(
        list("E1", true, 20, pv1::Person::STATUS_UNSPECIFIED, &ids, &pages));
    std::set<std::string> below = Below(org, "E1");
    // E6..E10, E31..E55, E156..E249 (the last level is cut off at E249).
    EXPECT_EQ(below.size(), 5u + 25u + 94u);
    EXPECT_THAT(ids, UnorderedElementsAreArray(below));
    EXPECT_EQ(pages.size(), (below.size() + 19) / 20);
  }
  {  // Status filter, at all levels.
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(
        list("E1", true, 7, pv1::Person::ON_LEAVE, &ids, &pages));
    std::vector<std::string> want;
    for (const auto& e : Below(org, "E1")) {
      if (org.status[e] == pv1::Person::ON_LEAVE) want.push_back(e);
    }
    ASSERT_FALSE(want.empty());
    EXPECT_THAT(ids, UnorderedElementsAreArray(want));
    ids.clear();
    pages.clear();
    ASSERT_NO_FATAL_FAILURE(
        list("E0", false, 0, pv1::Person::TERMINATED, &ids, &pages));
    EXPECT_THAT(ids, ElementsAre("E5"));
  }
  {  // A leaf has no reports.
    std::vector<std::string> ids;
    std::vector<int> pages;
    ASSERT_NO_FATAL_FAILURE(
        list("E249", true, 0, pv1::Person::STATUS_UNSPECIFIED, &ids, &pages));
    EXPECT_THAT(ids, IsEmpty());
  }
  {  // A page token is bound to its manager and depth.
    pv1::ListReportsRequest req;
    req.set_name(person_["E0"]);
    req.set_all_levels(true);
    req.set_page_size(10);
    pv1::ListReportsResponse resp;
    ASSERT_THAT(ListReports(req, &resp), GrpcOk());
    ASSERT_FALSE(resp.next_page_token().empty());
    req.set_page_token(resp.next_page_token());
    req.set_all_levels(false);
    EXPECT_THAT(ListReports(req, &resp), InvalidField("page_token"));
    req.set_all_levels(true);
    req.set_name(person_["E1"]);
    EXPECT_THAT(ListReports(req, &resp), InvalidField("page_token"));
  }
  pv1::ListReportsRequest unknown;
  unknown.set_name("people/nobody0000000000");
  pv1::ListReportsResponse resp;
  EXPECT_THAT(ListReports(unknown, &resp),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  unknown.set_all_levels(true);
  EXPECT_THAT(ListReports(unknown, &resp),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_P(PeopleReadTest, ReportingChainRunsFromTheNearestManagerToTheTop) {
  Org org = MakeOrg(250);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  pv1::GetReportingChainResponse chain;
  ASSERT_THAT(Chain(person_["E249"], &chain), GrpcOk());
  std::vector<std::string> got, want;
  for (const auto& m : chain.managers()) got.push_back(m.external_id());
  for (int i = 249; i > 0;) {
    i = ManagerOf(i);
    want.push_back(Ext(i));
  }
  EXPECT_THAT(want, ElementsAre("E49", "E9", "E1", "E0"));
  EXPECT_THAT(got, ElementsAreArray(want));
  // Each entry is the full person.
  ASSERT_EQ(chain.managers_size(), 4);
  EXPECT_EQ(chain.managers(0).name(), person_["E49"]);
  EXPECT_EQ(chain.managers(0).manager(), person_["E9"]);
  EXPECT_EQ(chain.managers(3).manager(), "");

  ASSERT_THAT(Chain(person_["E3"], &chain), GrpcOk());
  ASSERT_EQ(chain.managers_size(), 1);
  EXPECT_EQ(chain.managers(0).external_id(), "E0");

  pv1::GetReportingChainResponse top;
  ASSERT_THAT(Chain(person_["E0"], &top), GrpcOk());
  EXPECT_EQ(top.managers_size(), 0);

  EXPECT_THAT(Chain("people/nobody0000000000", &top),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

  // E49 moves under E2: the chain read above (and cached) follows.
  auto move = org.records[3 + 49];
  ASSERT_EQ(move.person().external_id(), "E49");
  move.mutable_person()->set_manager_external_id("E2");
  pv1::SyncPeopleResponse sync;
  ASSERT_THAT(cluster_->Sync(Incremental(), {move}, &sync), GrpcOk());
  ASSERT_EQ(sync.people().updated(), 1);
  ASSERT_THAT(Chain(person_["E249"], &chain), GrpcOk());
  got.clear();
  for (const auto& m : chain.managers()) got.push_back(m.external_id());
  EXPECT_THAT(got, ElementsAre("E49", "E2", "E0"));
}

TEST_P(PeopleReadTest, BatchGetPeopleKeepsOrderAndIsAllOrNothing) {
  Org org = MakeOrg(20);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  pv1::BatchGetPeopleResponse resp;
  std::vector<std::string> order = {"E7", "E2", "E19", "E0", "E11"};
  std::vector<std::string> names;
  for (const auto& e : order) names.push_back(person_[e]);
  ASSERT_THAT(BatchGet(names, &resp), GrpcOk());
  std::vector<std::string> got;
  for (const auto& p : resp.people()) got.push_back(p.external_id());
  EXPECT_THAT(got, ElementsAreArray(order));
  EXPECT_EQ(resp.people(0).name(), person_["E7"]);
  EXPECT_EQ(resp.people(0).manager(), person_["E1"]);

  // One missing name fails the whole call and says which.
  names.insert(names.begin() + 3, "people/missing000000000");
  pv1::BatchGetPeopleResponse none;
  EXPECT_THAT(BatchGet(names, &none),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND,
                           HasSubstr("people/missing000000000")));
  EXPECT_EQ(none.people_size(), 0);

  // Exactly 1000 is allowed; 1001 is not.
  std::vector<std::string> many(1000, person_["E1"]);
  ASSERT_THAT(BatchGet(many, &none), GrpcOk());
  EXPECT_EQ(none.people_size(), 1000);
  many.push_back(person_["E2"]);
  pv1::BatchGetPeopleResponse too_many;
  EXPECT_THAT(BatchGet(many, &too_many), InvalidField("names"));

  // A malformed name is named by its index.
  std::vector<std::string> malformed = {person_["E1"], person_["E2"],
                                        "people/Not_Valid", person_["E3"]};
  grpc::Status s = BatchGet(malformed, &none);
  EXPECT_THAT(s, InvalidField("names[2]"));
  EXPECT_THAT(ViolatedFields(s), ElementsAre("names[2]"));
  malformed = {"", person_["E2"], "teams/abc"};
  s = BatchGet(malformed, &none);
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(ViolatedFields(s), ElementsAre("names[0]", "names[2]"));
}

TEST_P(PeopleReadTest, LookupPersonByExternalIdOrEmail) {
  Org org = MakeOrg(20);
  ASSERT_NO_FATAL_FAILURE(Seed(org));
  pv1::LookupPersonRequest req;
  req.set_external_id("E10");
  pv1::Person by_ext;
  ASSERT_THAT(Lookup(req, &by_ext), GrpcOk());
  EXPECT_EQ(by_ext.name(), person_["E10"]);
  EXPECT_EQ(by_ext.email(), "e10@example.com");  // stored lower-case
  EXPECT_EQ(by_ext.status(), pv1::Person::ON_LEAVE);

  for (const std::string email :
       {"e10@example.com", "E10@EXAMPLE.COM", "  E10@Example.com "}) {
    req.set_email(email);
    pv1::Person by_email;
    ASSERT_THAT(Lookup(req, &by_email), GrpcOk()) << email;
    EXPECT_EQ(by_email.name(), by_ext.name()) << email;
    EXPECT_EQ(by_email.etag(), by_ext.etag()) << email;
  }

  // A changed email finds the person under the new address only.
  auto moved = org.records[3 + 10];
  ASSERT_EQ(moved.person().external_id(), "E10");
  moved.mutable_person()->set_email("Ten@Example.com");
  pv1::SyncPeopleResponse sync;
  ASSERT_THAT(cluster_->Sync(Incremental(), {moved}, &sync), GrpcOk());
  ASSERT_EQ(sync.people().updated(), 1);
  pv1::Person out;
  req.set_email("e10@example.com");
  EXPECT_THAT(Lookup(req, &out), GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  req.set_email("ten@example.com");
  ASSERT_THAT(Lookup(req, &out), GrpcOk());
  EXPECT_EQ(out.name(), by_ext.name());
  req.set_external_id("E10");
  ASSERT_THAT(Lookup(req, &out), GrpcOk());
  EXPECT_EQ(out.email(), "ten@example.com");

  EXPECT_THAT(Lookup(pv1::LookupPersonRequest(), &out), InvalidField("key"));
  req.set_external_id("E999");
  EXPECT_THAT(Lookup(req, &out), GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  req.set_email("nobody@example.com");
  EXPECT_THAT(Lookup(req, &out), GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  for (const std::string email :
       {"not-an-email", "a@b", "two@@example.com", "@example.com", ""}) {
    req.set_email(email);
    EXPECT_THAT(Lookup(req, &out), InvalidField("email")) << email;
  }
  req.set_external_id("");
  EXPECT_THAT(Lookup(req, &out), InvalidField("external_id"));
  req.set_external_id(std::string(129, 'x'));
  EXPECT_THAT(Lookup(req, &out), InvalidField("external_id"));
}

TEST_P(PeopleReadTest, TeamsCanBeReadAndListedUnderTheirParent) {
  std::vector<pv1::SyncPeopleRequest> records = {
      TeamMsg("ENG"),
      TeamMsg("PLATFORM", "ENG"),
      TeamMsg("APPS", "ENG"),
      TeamMsg("SALES"),
      TeamMsg("EMEA", "SALES"),
      TeamMsg("DB", "PLATFORM"),
      PersonMsg("P1", "", "PLATFORM")};
  records[1].mutable_team()->set_lead_external_id("P1");
  pv1::SyncPeopleResponse sync;
  ASSERT_THAT(cluster_->Sync(Full(), records, &sync), GrpcOk());
  ASSERT_EQ(sync.teams().created(), 6);
  ASSERT_NO_FATAL_FAILURE(LearnNames());
  ASSERT_EQ(team_.size(), 6u);

  pv1::Team platform;
  ASSERT_THAT(GetTeam(team_["PLATFORM"], &platform), GrpcOk());
  EXPECT_EQ(platform.external_id(), "PLATFORM");
  EXPECT_EQ(platform.display_name(), "Team PLATFORM");
  EXPECT_EQ(platform.parent(), team_["ENG"]);
  EXPECT_EQ(platform.lead(), person_["P1"]);
  EXPECT_FALSE(platform.etag().empty());
  pv1::Team eng;
  ASSERT_THAT(GetTeam(team_["ENG"], &eng), GrpcOk());
  EXPECT_EQ(eng.parent(), "");
  pv1::Person p1;
  ASSERT_THAT(GetPerson(person_["P1"], &p1), GrpcOk());
  EXPECT_EQ(p1.team(), team_["PLATFORM"]);

  auto children = [&](const std::string& parent, int page_size) {
    std::vector<std::string> out;
    pv1::ListTeamsRequest req;
    req.set_parent(parent);
    req.set_page_size(page_size);
    for (int i = 0; i < 20; ++i) {
      pv1::ListTeamsResponse resp;
      EXPECT_THAT(ListTeams(req, &resp), GrpcOk());
      for (const auto& t : resp.teams()) out.push_back(t.external_id());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  };
  EXPECT_THAT(children("", 2), UnorderedElementsAre("ENG", "PLATFORM", "APPS",
                                                    "SALES", "EMEA", "DB"));
  EXPECT_THAT(children(team_["ENG"], 1),
              UnorderedElementsAre("PLATFORM", "APPS"));
  EXPECT_THAT(children(team_["SALES"], 0), ElementsAre("EMEA"));
  EXPECT_THAT(children(team_["PLATFORM"], 0), ElementsAre("DB"));
  EXPECT_THAT(children(team_["APPS"], 0), IsEmpty());

  // A parent page token does not page another parent.
  pv1::ListTeamsRequest req;
  req.set_parent(team_["ENG"]);
  req.set_page_size(1);
  pv1::ListTeamsResponse resp;
  ASSERT_THAT(ListTeams(req, &resp), GrpcOk());
  ASSERT_FALSE(resp.next_page_token().empty());
  req.set_page_token(resp.next_page_token());
  req.set_parent(team_["SALES"]);
  EXPECT_THAT(ListTeams(req, &resp), InvalidField("page_token"));

  pv1::Team none;
  EXPECT_THAT(GetTeam("teams/nothere0000000000", &none),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_P(PeopleReadTest, EtagChangesWithAnUpdateAndNotWithAnUnchangedResync) {
  auto records = OrgRecords(10);
  pv1::SyncPeopleResponse sync;
  ASSERT_THAT(cluster_->Sync(Full(), records, &sync), GrpcOk());
  ASSERT_NO_FATAL_FAILURE(LearnNames());
  pv1::Person e3, e4;
  ASSERT_THAT(GetPerson(person_["E3"], &e3), GrpcOk());
  ASSERT_THAT(GetPerson(person_["E4"], &e4), GrpcOk());
  EXPECT_FALSE(e3.etag().empty());
  EXPECT_NE(e3.etag(), e4.etag());

  ASSERT_THAT(cluster_->Sync(Full(), records, &sync), GrpcOk());
  ASSERT_EQ(sync.people().unchanged(), 10);
  pv1::Person again;
  ASSERT_THAT(GetPerson(person_["E3"], &again), GrpcOk());
  EXPECT_EQ(again.etag(), e3.etag());
  EXPECT_EQ(again.SerializeAsString(), e3.SerializeAsString());

  records[3 + 3].mutable_person()->set_title(
      "Staff Engineer");  // 3 teams first
  ASSERT_EQ(records[6].person().external_id(), "E3");
  ASSERT_THAT(cluster_->Sync(Full(), records, &sync), GrpcOk());
  ASSERT_EQ(sync.people().updated(), 1);
  pv1::Person updated, e4_after;
  ASSERT_THAT(GetPerson(person_["E3"], &updated), GrpcOk());
  EXPECT_EQ(updated.title(), "Staff Engineer");
  EXPECT_NE(updated.etag(), e3.etag());
  EXPECT_EQ(updated.create_time().SerializeAsString(),
            e3.create_time().SerializeAsString());
  ASSERT_THAT(GetPerson(person_["E4"], &e4_after), GrpcOk());
  EXPECT_EQ(e4_after.etag(), e4.etag());

  // And it stays put once more.
  ASSERT_THAT(cluster_->Sync(Full(), records, &sync), GrpcOk());
  ASSERT_THAT(GetPerson(person_["E3"], &again), GrpcOk());
  EXPECT_EQ(again.etag(), updated.etag());

  pv1::Person missing;
  EXPECT_THAT(GetPerson("people/nobody0000000000", &missing),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_P(PeopleReadTest, EveryMalformedFieldIsInvalidArgumentNamingIt) {
  pv1::Person person;
  const std::vector<std::string> bad_names = {
      "",           "bad",
      "people/",    "people/UPPER",
      "people/a/b", "people/a b",
      "teams/abc",  "people/" + std::string(64, 'a')};
  for (const std::string& name : bad_names) {
    EXPECT_THAT(GetPerson(name, &person), InvalidField("name")) << name;
  }
  {
    // Bytes that are no GetPersonRequest at all.
    grpc::GenericStub generic(cluster_->service().Channel());
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    std::string junk = "\xff\xff\xff\xff";
    grpc::Slice slice(junk.data(), junk.size());
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    generic.UnaryCall(&ctx, "/sightline.people.v1.PeopleService/GetPerson",
                      grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    EXPECT_THAT(status, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                                     HasSubstr("request: not a serialized "
                                               "sightline.people.v1."
                                               "GetPersonRequest")));
  }
  pv1::Team team;
  for (const std::string name : {"", "teams/", "people/abc", "teams/X"}) {
    EXPECT_THAT(GetTeam(name, &team), InvalidField("name")) << name;
  }
  pv1::GetReportingChainResponse chain;
  EXPECT_THAT(Chain("bad", &chain), InvalidField("name"));

  pv1::ListPeopleResponse people;
  pv1::ListPeopleRequest lp;
  lp.set_team("x");
  EXPECT_THAT(ListPeople(lp, &people), InvalidField("team"));
  lp = pv1::ListPeopleRequest();
  lp.set_manager("nope");
  EXPECT_THAT(ListPeople(lp, &people), InvalidField("manager"));
  lp = pv1::ListPeopleRequest();
  lp.set_status(static_cast<pv1::Person::Status>(99));
  EXPECT_THAT(ListPeople(lp, &people), InvalidField("status"));

  pv1::ListReportsResponse reports;
  pv1::ListReportsRequest lr;
  EXPECT_THAT(ListReports(lr, &reports), InvalidField("name"));
  lr.set_name("people/UPPER");
  EXPECT_THAT(ListReports(lr, &reports), InvalidField("name"));
  lr.set_name("people/someone");
  lr.set_status(static_cast<pv1::Person::Status>(99));
  EXPECT_THAT(ListReports(lr, &reports), InvalidField("status"));

  pv1::ListTeamsResponse teams;
  pv1::ListTeamsRequest lt;
  lt.set_parent("x");
  EXPECT_THAT(ListTeams(lt, &teams), InvalidField("parent"));

  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken());
  pv1::WatchPeopleRequest watch;
  watch.set_resume_token("garbage");
  auto reader = stub_->WatchPeople(&ctx, watch);
  pv1::WatchPeopleResponse event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_THAT(reader->Finish(), InvalidField("resume_token"));
}

INSTANTIATE_TEST_SUITE_P(Db, PeopleReadTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
