#include "services/people/people_service.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/testing/status_matchers.h"
#include "services/people/codec.h"
#include "services/people/fake_repository.h"

namespace sightline::people {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kNow = 1700000000000000;
constexpr char kToday[] = "2026-11-23";

auth::Principal As(std::string subject,
                   std::vector<auth::Role> roles = {auth::Role::kEmployee}) {
  auth::Principal p;
  p.subject = std::move(subject);
  p.roles = std::move(roles);
  return p;
}

Person P(std::string id, std::string manager = "") {
  Person p;
  p.id = id;
  p.external_id = absl::StrCat("E-", id);
  p.email = absl::StrCat(id, "@example.com");
  p.display_name = absl::StrCat("Person ", id);
  p.manager_id = std::move(manager);
  p.revision = 1;
  return p;
}

PersonRecord Rec(std::string ext, std::string manager = "") {
  PersonRecord r;
  r.external_id = ext;
  r.email = absl::StrCat(ext, "@example.com");
  r.display_name = absl::StrCat("Person ", ext);
  r.manager_external_id = std::move(manager);
  return r;
}

SyncInput Roster(std::vector<PersonRecord> people, bool dry_run = false) {
  SyncInput in;
  in.mode = SyncMode::kIncremental;
  in.dry_run = dry_run;
  for (size_t i = 0; i < people.size(); ++i) {
    people[i].index = static_cast<int>(i);
  }
  in.people = std::move(people);
  return in;
}

Page FirstPage(int limit = 100) {
  Page page;
  page.limit = limit;
  return page;
}

class PeopleServiceTest : public ::testing::Test {
 protected:
  PeopleServiceTest() : service_(&repo_, Options()) {
    // ann <- bob <- cid; dee alone.
    repo_.Put(P("ann"));
    repo_.Put(P("bob", "ann"));
    repo_.Put(P("cid", "bob"));
    repo_.Put(P("dee"));
  }

  PeopleOptions Options() {
    PeopleOptions o;
    o.new_id = [this] { return absl::StrCat("new", next_id_++); };
    return o;
  }

  absl::StatusOr<SyncResult> Sync(const SyncInput& in,
                                  const Idempotency& idem = {},
                                  const auth::Principal& who = Hr()) {
    return service_.Sync(who, in, idem, answer_, kNow, kToday);
  }

  static auth::Principal Hr() { return As("hr", {auth::Role::kHrAdmin}); }

  FakePeopleRepository repo_;
  PeopleService service_;
  int next_id_ = 0;
  // The stored answer: what the caller would have been sent.
  int answers_made_ = 0;
  SyncAnswer answer_ = [this](const SyncResult& r) {
    ++answers_made_;
    return absl::StrCat("created=", r.plan.people.created, " seq=", r.last_seq);
  };
};

TEST_F(PeopleServiceTest, ReadsNeedAPrincipalAndAnyRoleMayRead) {
  EXPECT_THAT(service_.GetPerson(auth::Principal{}, "ann"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(service_.ListTeams(auth::Principal{}, "", FirstPage()),
              StatusIs(absl::StatusCode::kUnauthenticated));
  auto ann = service_.GetPerson(As("someone", {}), "ann");
  ASSERT_TRUE(ann.ok()) << ann.status();
  EXPECT_EQ(ann->email, "ann@example.com");
  EXPECT_THAT(
      service_.GetPerson(As("someone"), "zed"),
      StatusIs(absl::StatusCode::kNotFound, "people/zed does not exist"));
}

TEST_F(PeopleServiceTest, OnlyHrAdminsAndServicesMaySync) {
  EXPECT_TRUE(service_.CheckCanSync(Hr()).ok());
  EXPECT_TRUE(service_.CheckCanSync(As("svc", {auth::Role::kService})).ok());
  for (auto role : {auth::Role::kEmployee, auth::Role::kManager}) {
    EXPECT_THAT(service_.CheckCanSync(As("x", {role})),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         HasSubstr("hr_admin or service")));
  }
  EXPECT_THAT(
      Sync(Roster({Rec("E-new")}), {}, As("mgr", {auth::Role::kManager})),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(repo_.syncs(), 0);
  EXPECT_THAT(repo_.people(), SizeIs(4));
}

TEST_F(PeopleServiceTest, PeekAnswersOnlyFromMemory) {
  auto cold = service_.PeekPerson(As("someone"), "ann");
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(*cold, nullptr);
  repo_.Hold(P("ann"));
  auto warm = service_.PeekPerson(As("someone"), "ann");
  ASSERT_TRUE(warm.ok());
  ASSERT_NE(*warm, nullptr);
  EXPECT_EQ((*warm)->value().id, "ann");
  EXPECT_THAT(service_.PeekPerson(auth::Principal{}, "ann"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(PeopleServiceTest, BatchGetKeepsTheOrderAndIsAllOrNothing) {
  auto people = service_.BatchGetPeople(As("someone"), {"dee", "ann", "bob"});
  ASSERT_TRUE(people.ok()) << people.status();
  EXPECT_THAT(*people,
              ElementsAre(Field(&Person::id, "dee"), Field(&Person::id, "ann"),
                          Field(&Person::id, "bob")));
  EXPECT_THAT(
      service_.BatchGetPeople(As("someone"), {"ann", "zed", "yan"}),
      StatusIs(absl::StatusCode::kNotFound, "people/zed does not exist"));
}

TEST_F(PeopleServiceTest, LookupsCheckTheirKeyAndHideWhichOneMissed) {
  auto by_ext = service_.LookupByExternalId(As("someone"), "E-bob");
  ASSERT_TRUE(by_ext.ok()) << by_ext.status();
  EXPECT_EQ(by_ext->id, "bob");
  auto by_email = service_.LookupByEmail(As("someone"), "  Cid@Example.COM ");
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  EXPECT_EQ(by_email->id, "cid");

  EXPECT_THAT(service_.LookupByExternalId(As("someone"), ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be 1..128 characters")));
  EXPECT_THAT(service_.LookupByExternalId(As("someone"), std::string(129, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(service_.LookupByEmail(As("someone"), "not an email"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is not a valid email address")));
  EXPECT_THAT(service_.LookupByExternalId(As("someone"), "E-zed"),
              StatusIs(absl::StatusCode::kNotFound, "no person has this key"));
  EXPECT_THAT(service_.LookupByEmail(As("someone"), "zed@example.com"),
              StatusIs(absl::StatusCode::kNotFound, "no person has this key"));
}

TEST_F(PeopleServiceTest, ListReportsChecksTheManagerOnTheFirstPageOnly) {
  auto direct = service_.ListReports(As("someone"), "ann", false, 0,
                                     FirstPage(), /*first_page=*/true);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_THAT(*direct, ElementsAre(Field(&Person::id, "bob")));
  auto all = service_.ListReports(As("someone"), "ann", true, 0, FirstPage(),
                                  /*first_page=*/true);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(
      *all, ElementsAre(Field(&Person::id, "bob"), Field(&Person::id, "cid")));

  EXPECT_THAT(service_.ListReports(As("someone"), "zed", false, 0, FirstPage(),
                                   /*first_page=*/true),
              StatusIs(absl::StatusCode::kNotFound));
  // A later page of a manager who left is an empty page, not an error.
  auto later = service_.ListReports(As("someone"), "zed", false, 0, FirstPage(),
                                    /*first_page=*/false);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_THAT(*later, IsEmpty());
}

TEST_F(PeopleServiceTest, ReportingChainRunsUpToTheTop) {
  auto chain = service_.ReportingChain(As("someone"), "cid");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_THAT(*chain, ElementsAre(Field(&Person::id, "bob"),
                                  Field(&Person::id, "ann")));
}

TEST_F(PeopleServiceTest, ADryRunPlansOnTheDirectoryAndWritesNothing) {
  auto result = Sync(Roster({Rec("E-eve", "E-ann")}, /*dry_run=*/true),
                     {"SyncPeople|hr", "run-1", "fp"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->plan.people.created, 1);
  ASSERT_THAT(result->plan.create_people, SizeIs(1));
  EXPECT_EQ(result->plan.create_people[0].manager_id, "ann");
  EXPECT_EQ(result->last_seq, 0);
  EXPECT_FALSE(result->replayed);
  EXPECT_THAT(repo_.people(), SizeIs(4));
  // A dry run is never recorded, so the same id may apply afterwards.
  EXPECT_EQ(answers_made_, 0);
  auto applied =
      Sync(Roster({Rec("E-eve", "E-ann")}), {"SyncPeople|hr", "run-1", "fp"});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_FALSE(applied->replayed);
  EXPECT_THAT(repo_.people(), SizeIs(5));
}

TEST_F(PeopleServiceTest, ASyncAppliesItsPlanAndEndsAtItsFeedPosition) {
  auto result = Sync(Roster({Rec("E-eve", "E-ann"), Rec("E-fay", "E-eve")}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->plan.people.created, 2);
  EXPECT_EQ(result->last_seq, 2);
  EXPECT_EQ(repo_.last_seq(), 2);
  ASSERT_TRUE(repo_.people().contains("new0"));
  EXPECT_EQ(repo_.people().at("new1").manager_id, "new0");
  // Without a request id nothing is recorded.
  EXPECT_EQ(answers_made_, 0);
}

TEST_F(PeopleServiceTest, ARetryGetsTheFirstAnswerAndAnotherRequestIsRefused) {
  Idempotency idem{"SyncPeople|hr", "run-7", "fingerprint-a"};
  auto first = Sync(Roster({Rec("E-eve")}), idem);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(answers_made_, 1);

  // The directory moved on; the retry still gets the first answer, with the
  // feed position that sync ended at, and changes nothing.
  ASSERT_TRUE(Sync(Roster({Rec("E-gus")})).ok());
  auto retry = Sync(Roster({Rec("E-eve")}), idem);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->response, "created=1 seq=1");
  EXPECT_EQ(answers_made_, 1);
  EXPECT_THAT(repo_.people(), SizeIs(6));

  Idempotency other = idem;
  other.fingerprint = "fingerprint-b";
  EXPECT_THAT(
      Sync(Roster({Rec("E-hal")}), other),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_id")));
  EXPECT_THAT(repo_.people(), SizeIs(6));
}

TEST_F(PeopleServiceTest, ARetriedTransactionStartsOver) {
  repo_.RetryNextSync(2);
  auto result = Sync(Roster({Rec("E-eve")}), {"SyncPeople|hr", "run-9", "fp"});
  ASSERT_TRUE(result.ok()) << result.status();
  // Only the attempt that committed counts: one person, one recorded answer.
  EXPECT_EQ(result->plan.people.created, 1);
  EXPECT_THAT(result->plan.create_people, SizeIs(1));
  EXPECT_THAT(repo_.people(), SizeIs(5));
  EXPECT_EQ(answers_made_, 1);
  EXPECT_EQ(result->last_seq, 1);
}

TEST_F(PeopleServiceTest, PlanningErrorsAndBadOptionsChangeNothing) {
  SyncInput in = Roster({Rec("E-eve", "E-nobody")});
  EXPECT_THAT(Sync(in), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("manager_external_id")));
  in = Roster({Rec("E-eve")});
  in.effective_date = "2026-02-30";
  EXPECT_THAT(Sync(in), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("options.effective_date")));
  EXPECT_THAT(repo_.people(), SizeIs(4));
  EXPECT_EQ(repo_.last_seq(), 0);
}

TEST_F(PeopleServiceTest, ChangeLogEntriesDecodeToPeopleAndTeams) {
  Person ann = P("ann");
  ann.roles = {"hr_admin"};
  auto person = PeopleService::DecodeChange(
      kPersonEntity, static_cast<int>(ChangeKind::kUpdated), EncodePerson(ann));
  ASSERT_TRUE(person.ok()) << person.status();
  ASSERT_TRUE(person->has_value());
  EXPECT_EQ((*person)->kind, static_cast<int>(ChangeKind::kUpdated));
  ASSERT_TRUE((*person)->person.has_value());
  EXPECT_EQ((*person)->person->email, "ann@example.com");
  EXPECT_THAT((*person)->person->roles, ElementsAre("hr_admin"));
  EXPECT_FALSE((*person)->team.has_value());

  Team t;
  t.id = "t1";
  t.display_name = "Platform";
  auto team = PeopleService::DecodeChange(
      kTeamEntity, static_cast<int>(ChangeKind::kCreated), EncodeTeam(t));
  ASSERT_TRUE(team.ok()) << team.status();
  ASSERT_TRUE(team->has_value() && (*team)->team.has_value());
  EXPECT_EQ((*team)->team->display_name, "Platform");

  auto other = PeopleService::DecodeChange("goal", 1, "");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  EXPECT_THAT(PeopleService::DecodeChange(kPersonEntity, 1, "\xff\xff"),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace sightline::people
