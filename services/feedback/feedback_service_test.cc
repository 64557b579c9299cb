#include "services/feedback/feedback_service.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/feedback/fakes.h"
#include "services/feedback/sql_repository.h"

namespace sightline::feedback {
namespace {

using ::sightline::testing::InvalidNaming;
using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

store::Feedback About(const std::string& subject, Visibility vis,
                      Kind kind = Kind::kPraise) {
  store::Feedback f;
  f.set_subject_id(subject);
  f.set_kind(static_cast<int>(kind));
  f.set_visibility(static_cast<int>(vis));
  f.set_body(absl::StrCat("Feedback about ", subject, "."));
  return f;
}

std::vector<std::string> Ids(const std::vector<store::Feedback>& list) {
  std::vector<std::string> out;
  for (const auto& f : list) out.push_back(f.id());
  return out;
}

// The org:
//   cora (CEO, exec)
//   ├─ mia (lead of eng) ── ann, bob, carl, dan (eng)
//   └─ sam (lead of sales) ── sue (sales)
//   hana (hr_admin, no manager); zed has left eng.
// The service runs over a real SQLite store in a temp dir.
class FeedbackServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::sightline::testing::MakeTempDir("feedback-service");
    auto db = ::sightline::testing::OpenMigratedSqlite(dir_, "feedback",
                                                       FeedbackMigrations());
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    repo_ = NewSqlRepository(db_.get());

    org_.AddTeam("exec", "cora");
    org_.AddTeam("eng", "mia");
    org_.AddTeam("sales", "sam");
    org_.AddPerson("cora", "exec", "");
    org_.AddPerson("mia", "eng", "cora");
    for (const char* id : {"ann", "bob", "carl", "dan"})
      org_.AddPerson(id, "eng", "mia");
    org_.AddPerson("zed", "eng", "mia", /*active=*/false);
    org_.AddPerson("sam", "sales", "cora");
    org_.AddPerson("sue", "sales", "sam");
    org_.AddPerson("hana", "", "");
    goals_.Add("g1", {"goals/g1/keyResults/k1"});

    FeedbackOptions options;
    options.on_created = [this](int kind, int rel) {
      created_.push_back({kind, rel});
    };
    service_ =
        std::make_unique<FeedbackService>(repo_.get(), &org_, &goals_, options);
    ASSERT_THAT(service_->Init(), IsOk());
  }

  void TearDown() override {
    service_.reset();
    repo_.reset();
    db_.reset();
    ::sightline::testing::RemoveTree(dir_);
  }

  Caller As(const std::string& person, bool hr_admin = false) const {
    return service_->MakeCaller(person, absl::StrCat("people/", person),
                                hr_admin, false);
  }
  Caller Service() const {
    return service_->MakeCaller("", "service:crm", false, true);
  }

  absl::StatusOr<store::Feedback> Give(const Caller& caller, store::Feedback f,
                                       const std::string& request_id = "") {
    Idempotency idem{absl::StrCat("CreateFeedback:", caller.key), request_id,
                     f.SerializeAsString()};
    return service_->CreateFeedback(caller, std::move(f), "", idem);
  }
  std::string MustGive(const std::string& author, store::Feedback f) {
    auto out = Give(As(author), std::move(f));
    EXPECT_THAT(out, IsOk());
    return out.ok() ? out->id() : "";
  }
  store::Feedback Anonymous(store::Feedback f) {
    f.set_anonymous(true);
    return f;
  }

  // Every page of a listing, `size` at a time.
  std::vector<store::Feedback> ListAll(const Caller& caller,
                                       const ListSpec& spec, int size = 2) {
    std::vector<store::Feedback> all;
    Page page;
    page.limit = size;
    for (int i = 0; i < 100; ++i) {
      std::string next;
      auto rows = service_->ListFeedback(caller, spec, page, &next);
      EXPECT_THAT(rows, IsOk());
      if (!rows.ok()) break;
      EXPECT_LE(static_cast<int>(rows->size()), size);
      for (auto& f : *rows) all.push_back(std::move(f));
      if (next.empty()) break;
      page.after = next;
    }
    return all;
  }
  ListSpec Subject(const std::string& id) {
    ListSpec s;
    s.subject_id = id;
    return s;
  }

  // A request from `requester` about `subject` to `responders`.
  absl::StatusOr<RequestView> Ask(const std::string& requester,
                                  const std::string& subject,
                                  const std::vector<std::string>& responders,
                                  bool allow_anonymous = false) {
    store::Request r;
    r.set_subject_id(subject);
    r.set_prompt("What should I keep doing?");
    r.set_due_time(storage::NowMicros() + int64_t{86400} * 1000000);
    r.set_allow_anonymous(allow_anonymous);
    for (const auto& id : responders) r.add_responders()->set_person_id(id);
    return service_->CreateRequest(As(requester), r, Idempotency{});
  }
  std::vector<RequestView> Requests(const std::string& person, bool inbox,
                                    bool include_closed = false) {
    Page page;
    std::string next;
    auto rows =
        service_->ListRequests(As(person), inbox, include_closed, page, &next);
    EXPECT_THAT(rows, IsOk());
    return rows.ok() ? *rows : std::vector<RequestView>();
  }

  std::string dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<FeedbackRepository> repo_;
  FakeOrg org_;
  FakeGoals goals_;
  std::vector<std::pair<int, int>> created_;
  std::unique_ptr<FeedbackService> service_;
};

TEST_F(FeedbackServiceTest, RelationshipIsDerivedFromTheOrgNotTheClient) {
  struct Case {
    const char* author;
    const char* subject;
    Relationship want;
  };
  for (const Case& c : {Case{"ann", "bob", Relationship::kPeer},
                        Case{"ann", "mia", Relationship::kUpward},
                        Case{"mia", "ann", Relationship::kDownward},
                        Case{"cora", "ann", Relationship::kDownward},
                        Case{"ann", "ann", Relationship::kSelf}}) {
    store::Feedback f = About(c.subject, Visibility::kSubjectOnly);
    f.set_relationship(static_cast<int>(Relationship::kCustomer));  // ignored
    auto out = Give(As(c.author), f);
    ASSERT_THAT(out, IsOk()) << c.author << "->" << c.subject;
    EXPECT_EQ(out->relationship(), static_cast<int>(c.want))
        << c.author << "->" << c.subject;
    EXPECT_EQ(out->author_id(), c.author);
  }
  EXPECT_EQ(created_.size(), 5u);

  store::Feedback customer = About("sue", Visibility::kSubjectAndManagers);
  customer.set_external_name("Pat Buyer");
  customer.set_external_org("Acme");
  auto out = Give(Service(), customer);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->relationship(), static_cast<int>(Relationship::kCustomer));
  EXPECT_EQ(out->author_id(), "");
}

TEST_F(FeedbackServiceTest, NobodyGivesFeedbackAsSomeoneElse) {
  store::Feedback f = About("bob", Visibility::kSubjectOnly);
  EXPECT_THAT(service_->CreateFeedback(As("ann"), f, "carl", Idempotency{}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("as someone else")));
  EXPECT_THAT(
      service_->CreateFeedback(Service(), f, "carl", Idempotency{}),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("CUSTOMER")));
  EXPECT_THAT(Give(Service(), f),
              InvalidNaming("feedback.external_author.name"));
  // A token for someone the directory does not know.
  EXPECT_THAT(Give(service_->MakeCaller("", "people/ghost", false, false), f),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Give(As("ann"), About("ghost", Visibility::kSubjectOnly)),
              InvalidNaming("feedback.subject"));
  EXPECT_THAT(Give(As("ann"), About("zed", Visibility::kSubjectOnly)),
              InvalidNaming("feedback.subject"));
  store::Feedback empty = About("bob", Visibility::kSubjectOnly);
  empty.set_body("");
  EXPECT_THAT(Give(As("ann"), empty), InvalidNaming("feedback.body"));
  EXPECT_THAT(created_, IsEmpty());
  EXPECT_THAT(ListAll(As("bob"), Subject("bob")), IsEmpty());
}

TEST_F(FeedbackServiceTest, AnonymousFeedbackKeepsNoAuthorAndOnlyTheDay) {
  auto out = Give(As("ann"), Anonymous(About("bob", Visibility::kSubjectOnly,
                                             Kind::kConstructive)));
  ASSERT_THAT(out, IsOk());
  auto stored = repo_->GetFeedback(out->id());
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->author_id(), "");
  EXPECT_EQ(stored->create_time() % kMicrosPerDay, 0);
  EXPECT_NE(stored->author_key(), "");
  EXPECT_FALSE(absl::StrContains(stored->author_key(), "ann"));

  // Anonymity is for PEER and UPWARD feedback only, never PUBLIC.
  EXPECT_THAT(
      Give(As("mia"), Anonymous(About("ann", Visibility::kSubjectOnly))),
      InvalidNaming("feedback.anonymous"));
  EXPECT_THAT(Give(As("ann"), Anonymous(About("bob", Visibility::kPublic))),
              InvalidNaming("feedback.anonymous"));
  // sam has one report: "one of your reports" would name sue.
  EXPECT_THAT(
      Give(As("sue"), Anonymous(About("sam", Visibility::kSubjectOnly))),
      InvalidNaming("feedback.anonymous"));
  ASSERT_THAT(
      Give(As("ann"), Anonymous(About("mia", Visibility::kSubjectOnly))),
      IsOk());

  // The author finds what they wrote; nobody else finds it by author.
  ListSpec by_ann;
  by_ann.author_id = "ann";
  EXPECT_EQ(ListAll(As("ann"), by_ann).size(), 2u);
  EXPECT_THAT(ListAll(As("bob"), by_ann), IsEmpty());
  EXPECT_THAT(ListAll(As("mia"), by_ann), IsEmpty());
  EXPECT_THAT(ListAll(As("hana", /*hr_admin=*/true), by_ann), IsEmpty());
  // The subject reads it, without an author.
  auto read = service_->GetFeedback(As("bob"), out->id());
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->author_id(), "");
}

TEST_F(FeedbackServiceTest, IdempotentRetryGivesTheFirstAnswer) {
  store::Feedback f = About("bob", Visibility::kSubjectOnly);
  auto first = Give(As("ann"), f, "retry-1");
  ASSERT_THAT(first, IsOk());
  auto again = Give(As("ann"), f, "retry-1");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(created_.size(), 1u);
  // The same request_id with a different body is a client bug.
  store::Feedback other = f;
  other.set_body("Something else entirely.");
  EXPECT_THAT(Give(As("ann"), other, "retry-1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ListAll(As("bob"), Subject("bob")).size(), 1u);
}

TEST_F(FeedbackServiceTest, DependenciesDownMeanUnavailableAndNothingWritten) {
  store::Feedback f = About("bob", Visibility::kSubjectOnly);
  org_.set_down(true);
  EXPECT_THAT(Give(As("ann"), f), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Ask("ann", "ann", {"bob"}),
              StatusIs(absl::StatusCode::kUnavailable));
  org_.set_down(false);

  f.set_goal_id("g1");
  goals_.set_down(true);
  EXPECT_THAT(Give(As("ann"), f), StatusIs(absl::StatusCode::kUnavailable));
  goals_.set_down(false);
  EXPECT_THAT(created_, IsEmpty());
  EXPECT_THAT(ListAll(As("bob"), Subject("bob")), IsEmpty());
  EXPECT_THAT(Requests("bob", /*inbox=*/true), IsEmpty());

  store::Feedback unknown = f;
  unknown.set_goal_id("nope");
  EXPECT_THAT(Give(As("ann"), unknown), InvalidNaming("feedback.goal"));
  ASSERT_THAT(Give(As("ann"), f), IsOk());
  EXPECT_EQ(ListAll(As("bob"), Subject("bob")).size(), 1u);
}

TEST_F(FeedbackServiceTest, VisibilityMatrixOnGetAndList) {
  std::string only = MustGive("bob", About("ann", Visibility::kSubjectOnly));
  std::string managers =
      MustGive("bob", About("ann", Visibility::kSubjectAndManagers));
  std::string pub = MustGive("bob", About("ann", Visibility::kPublic));
  struct Reader {
    Caller caller;
    std::set<std::string> sees;
  };
  std::vector<Reader> readers = {
      {As("ann"), {only, managers, pub}},      // subject
      {As("bob"), {only, managers, pub}},      // author
      {As("mia"), {managers, pub}},            // manager
      {As("cora"), {managers, pub}},           // manager's manager
      {As("carl"), {pub}},                     // a peer
      {As("sam"), {pub}},                      // another manager
      {As("hana", /*hr_admin=*/true), {pub}},  // the role gives nothing
      {Service(), {pub}},                      // a service
  };
  for (const auto& r : readers) {
    std::string who =
        r.caller.person_id.empty() ? "service" : r.caller.person_id;
    for (const auto& id : {only, managers, pub}) {
      auto got = service_->GetFeedback(r.caller, id);
      if (r.sees.contains(id)) {
        EXPECT_THAT(got, IsOk()) << who << " " << id;
      } else {
        EXPECT_THAT(got, StatusIs(absl::StatusCode::kNotFound)) << who;
      }
    }
    auto listed = Ids(ListAll(r.caller, Subject("ann")));
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), r.sees)
        << who;
  }
  // Only the subject acknowledges.
  EXPECT_THAT(service_->Acknowledge(As("mia"), managers, 1),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->Acknowledge(As("carl"), only, 1),
              StatusIs(absl::StatusCode::kNotFound));
  auto ack = service_->Acknowledge(As("ann"), managers, 2);
  ASSERT_THAT(ack, IsOk());
  EXPECT_GT(ack->ack_time(), 0);
  EXPECT_EQ(ack->ack_reaction(), 2);
}

TEST_F(FeedbackServiceTest, GoalListingPagesPastRowsTheCallerMayNotRead) {
  std::set<std::string> public_ids;
  for (int i = 0; i < 9; ++i) {
    Visibility vis =
        i % 3 == 0 ? Visibility::kPublic : Visibility::kSubjectOnly;
    store::Feedback f = About(i % 2 == 0 ? "ann" : "bob", vis);
    f.set_goal_id("g1");
    std::string id = MustGive("carl", f);
    if (vis == Visibility::kPublic) public_ids.insert(id);
  }
  ListSpec goal;
  goal.goal_id = "g1";
  auto seen = Ids(ListAll(As("sue"), goal, /*size=*/2));
  EXPECT_EQ(seen.size(), public_ids.size());  // no repeats
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), public_ids);
  EXPECT_EQ(ListAll(As("carl"), goal, 4).size(), 9u);
  // Hers (5 of 9) and the PUBLIC one about bob.
  EXPECT_EQ(ListAll(As("ann"), goal, 4).size(), 6u);
}

TEST_F(FeedbackServiceTest, RequestLifecycleAndWhoSeesWhat) {
  auto req = Ask("ann", "ann", {"bob", "carl", "dan"});
  ASSERT_THAT(req, IsOk());
  const std::string id = req->request.id();
  EXPECT_EQ(req->state, ResponderState::kOpen);
  EXPECT_EQ(req->asked, 3);
  // Each responder's inbox; not sue's.
  for (const char* p : {"bob", "carl", "dan"}) {
    auto inbox = Requests(p, /*inbox=*/true);
    ASSERT_EQ(inbox.size(), 1u) << p;
    EXPECT_EQ(inbox[0].request.id(), id);
    EXPECT_EQ(inbox[0].request.responders_size(), 1) << "only their own part";
  }
  EXPECT_THAT(Requests("sue", true), IsEmpty());

  // bob answers; a second answer is refused.
  store::Feedback answer = About("ann", Visibility::kSubjectOnly);
  answer.set_request_id(id);
  ASSERT_THAT(Give(As("bob"), answer), IsOk());
  EXPECT_THAT(Give(As("bob"), answer),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("answered already")));
  // Not addressed to sue: answered as if it did not exist.
  EXPECT_THAT(Give(As("sue"), answer), InvalidNaming("feedback.request"));
  EXPECT_THAT(Requests("bob", true), IsEmpty());
  EXPECT_EQ(Requests("bob", true, /*include_closed=*/true).size(), 1u);

  // carl declines; sue cannot; ann (the requester) cannot.
  auto declined = service_->Decline(As("carl"), id, "on leave");
  ASSERT_THAT(declined, IsOk());
  EXPECT_THAT(service_->Decline(As("sue"), id, ""),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->Decline(As("ann"), id, ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->Decline(As("carl"), id, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  auto sent = Requests("ann", /*inbox=*/false);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].state, ResponderState::kOpen);  // dan has not answered
  EXPECT_EQ(sent[0].completed, 1);
  EXPECT_EQ(sent[0].declined, 1);
  std::map<std::string, int> states;
  for (const auto& p : sent[0].request.responders())
    states[p.person_id()] = p.state();
  EXPECT_EQ(states["bob"], static_cast<int>(ResponderState::kCompleted));
  EXPECT_EQ(states["carl"], static_cast<int>(ResponderState::kDeclined));
  EXPECT_EQ(states["dan"], static_cast<int>(ResponderState::kOpen));

  auto census = service_->Census();
  ASSERT_THAT(census, IsOk());
  EXPECT_EQ(census->first, 1);  // dan's part, not yet due
  EXPECT_EQ(census->second, 0);

  // About someone else: only their managers ask.
  EXPECT_THAT(Ask("ann", "bob", {"carl"}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Ask("mia", "bob", {"carl"}), IsOk());
  EXPECT_THAT(Ask("ann", "ann", {"ghost"}),
              InvalidNaming("feedback_request.responders[0]"));
  EXPECT_THAT(Ask("ann", "ann", {"bob", "carl"}, /*allow_anonymous=*/true),
              InvalidNaming("feedback_request.allow_anonymous"));
}

TEST_F(FeedbackServiceTest, AnonymousAnswersShowTheRequesterCountsOnly) {
  auto req = Ask("ann", "ann", {"bob", "carl", "dan"}, true);
  ASSERT_THAT(req, IsOk());
  store::Feedback answer = Anonymous(About("ann", Visibility::kSubjectOnly));
  answer.set_request_id(req->request.id());
  ASSERT_THAT(Give(As("carl"), answer), IsOk());
  auto sent = Requests("ann", false);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].completed, 1);
  for (const auto& p : sent[0].request.responders())
    EXPECT_EQ(p.state(), 0) << p.person_id();
  // carl still sees his own part.
  auto mine = Requests("carl", true, true);
  ASSERT_EQ(mine.size(), 1u);
  ASSERT_EQ(mine[0].request.responders_size(), 1);
  EXPECT_EQ(mine[0].request.responders(0).state(),
            static_cast<int>(ResponderState::kCompleted));
}

// A goal the author may not read is referenced as a goal that does not
// exist: the check is made with the author's rights.
TEST_F(FeedbackServiceTest, AGoalTheAuthorMayNotReadReadsAsMissing) {
  goals_.Add("secret", {"goals/secret/keyResults/k1"}, {"carl", "mia"});
  auto about = [](const std::string& goal, const std::string& kr) {
    store::Feedback f = About("carl", Visibility::kSubjectOnly);
    f.set_goal_id(goal);
    f.set_key_result(kr);
    return f;
  };
  absl::Status missing = Give(As("ann"), about("nosuchgoal", "")).status();
  EXPECT_THAT(missing, InvalidNaming("feedback.goal"));
  EXPECT_EQ(Give(As("ann"), about("secret", "")).status(), missing);
  EXPECT_EQ(
      Give(As("ann"), about("secret", "goals/secret/keyResults/k1")).status(),
      missing);
  EXPECT_THAT(Give(As("mia"), about("secret", "goals/secret/keyResults/k1")),
              IsOk());
  EXPECT_EQ(created_.size(), 1u);  // only the reference mia may follow
}

// A reference the caller may not follow is answered exactly like one to
// nothing: same code, same message, same details.
TEST_F(FeedbackServiceTest, ReferencesTheCallerMayNotFollowReadAsMissing) {
  auto req = Ask("ann", "ann", {"bob", "carl", "dan"}, true);
  ASSERT_THAT(req, IsOk());
  const std::string id = req->request.id();
  auto answering = [&](const Caller& who, const std::string& request,
                       const std::string& subject, bool anonymous) {
    store::Feedback f = About(subject, Visibility::kSubjectOnly);
    f.set_anonymous(anonymous);
    f.set_request_id(request);
    return Give(who, f).status();
  };
  absl::Status missing = answering(As("sue"), "nosuchrequest", "ann", false);
  EXPECT_THAT(missing, InvalidNaming("feedback.request"));
  // Someone not asked, whatever else the answer gets wrong (the subject, or
  // anonymity), and a service: as for a request that does not exist.
  EXPECT_EQ(answering(As("sue"), id, "ann", false), missing);
  EXPECT_EQ(answering(As("sue"), id, "bob", true), missing);
  EXPECT_EQ(answering(As("mia"), id, "mia", false), missing);
  store::Feedback customer = About("ann", Visibility::kSubjectOnly);
  customer.set_external_name("Dana");
  customer.set_external_org("Acme");
  customer.set_request_id(id);
  EXPECT_EQ(Give(Service(), customer).status(), missing);
  // The requester knows the request: told why instead.
  EXPECT_THAT(answering(As("ann"), id, "ann", false),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Someone asked is told what is wrong with the answer.
  EXPECT_THAT(answering(As("bob"), id, "carl", false),
              InvalidNaming("feedback.subject"));
  EXPECT_THAT(answering(As("bob"), id, "ann", true), IsOk());

  // Declining: someone not asked, as for a missing request (the same message
  // with the name it was given).
  auto decline_missing = service_->Decline(As("sue"), "nosuchrequest", "");
  auto decline_other = service_->Decline(As("sue"), id, "");
  EXPECT_THAT(decline_missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(decline_other.status().code(), decline_missing.status().code());
  EXPECT_EQ(absl::StrReplaceAll(decline_other.status().message(),
                                {{id, "nosuchrequest"}}),
            decline_missing.status().message());

  // A 360 summary: someone outside the subject's chain, as for a missing one.
  store::Review review;
  review.set_subject_id("ann");
  int64_t today = DayNumber(storage::NowMicros());
  review.set_start_date(DateOfDay(today));
  review.set_end_date(DateOfDay(today + 14));
  auto created =
      service_->CreateReview(As("mia"), review, "How is ann doing?", {});
  ASSERT_THAT(created, IsOk());
  auto summary_missing = service_->ReviewSummary(As("sue"), "nosuch", 0, "");
  auto summary_other = service_->ReviewSummary(As("sue"), created->id(), 0, "");
  EXPECT_THAT(summary_missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(summary_other.status().code(), summary_missing.status().code());
  EXPECT_EQ(absl::StrReplaceAll(summary_other.status().message(),
                                {{created->id(), "nosuch"}}),
            summary_missing.status().message());
}

TEST_F(FeedbackServiceTest, ReviewSummaryKeepsTheFloorAndRefusesNarrowing) {
  store::Review review;
  review.set_subject_id("ann");
  int64_t today = DayNumber(storage::NowMicros());
  review.set_start_date(DateOfDay(today));
  review.set_end_date(DateOfDay(today + 14));
  EXPECT_THAT(service_->CreateReview(As("bob"), review, "How is ann doing?",
                                     Idempotency{}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  auto created = service_->CreateReview(As("mia"), review, "How is ann doing?",
                                        Idempotency{});
  ASSERT_THAT(created, IsOk());
  auto request = repo_->GetRequest(created->request_id());
  ASSERT_THAT(request, IsOk());
  std::set<std::string> asked;
  for (const auto& p : request->responders()) asked.insert(p.person_id());
  EXPECT_EQ(asked, (std::set<std::string>{"mia", "bob", "carl", "dan", "ann"}));
  EXPECT_TRUE(request->allow_anonymous());

  auto answer = [&](const std::string& who, bool anonymous,
                    const std::string& tag) {
    store::Feedback f =
        About("ann", Visibility::kSubjectAndManagers, Kind::kObservation);
    f.set_anonymous(anonymous);
    f.set_request_id(created->request_id());
    if (!tag.empty()) f.add_competencies(tag);
    ASSERT_THAT(Give(As(who), f), IsOk()) << who;
  };
  auto peer_group = [&](const std::string& tag) -> SummaryGroup {
    auto s = service_->ReviewSummary(As("mia"), created->id(), 0, tag);
    EXPECT_THAT(s, IsOk());
    if (!s.ok()) return {};
    for (auto& g : s->groups)
      if (g.relationship == static_cast<int>(Relationship::kPeer)) return g;
    return {};
  };
  answer("mia", false, "");
  answer("bob", true, "clarity");
  answer("carl", true, "clarity");
  SummaryGroup g = peer_group("");
  EXPECT_THAT(g.withheld_reason, HasSubstr("3"));
  EXPECT_THAT(g.responses, IsEmpty());
  answer("dan", true, "");
  g = peer_group("");
  EXPECT_EQ(g.withheld_reason, "");
  EXPECT_EQ(g.responses.size(), 3u);
  for (const auto& f : g.responses) EXPECT_EQ(f.author_id(), "");
  // "clarity" would show bob and carl, and by difference dan.
  g = peer_group("clarity");
  EXPECT_NE(g.withheld_reason, "");
  EXPECT_THAT(g.responses, IsEmpty());

  // The manager's named answer is not sensitive: shown on its own.
  auto s = service_->ReviewSummary(
      As("mia"), created->id(), static_cast<int>(Relationship::kDownward), "");
  ASSERT_THAT(s, IsOk());
  ASSERT_EQ(s->groups.size(), 1u);
  EXPECT_EQ(s->groups[0].responses.size(), 1u);
  // Neither a peer nor hr_admin by person reads the summary; hr_admin does.
  EXPECT_THAT(service_->ReviewSummary(As("bob"), created->id(), 0, ""),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->ReviewSummary(As("hana", true), created->id(), 0, ""),
              IsOk());
}

TEST_F(FeedbackServiceTest, StatsKeepTheFloorPerMonth) {
  int64_t today = DayNumber(storage::NowMicros());
  auto stats = [&](const Caller& c) {
    return service_->GetStats(c, "ann", "", today, today);
  };
  MustGive("mia", About("ann", Visibility::kSubjectOnly));
  ASSERT_THAT(
      Give(As("bob"), Anonymous(About("ann", Visibility::kSubjectOnly))),
      IsOk());
  ASSERT_THAT(
      Give(As("carl"), Anonymous(About("ann", Visibility::kSubjectOnly))),
      IsOk());
  auto s = stats(As("mia"));
  ASSERT_THAT(s, IsOk());
  EXPECT_NE(s->withheld_reason, "");
  EXPECT_THAT(s->counts, IsEmpty());
  EXPECT_EQ(s->total, 0);
  ASSERT_THAT(
      Give(As("dan"), Anonymous(About("ann", Visibility::kSubjectOnly))),
      IsOk());
  s = stats(As("mia"));
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->withheld_reason, "");
  EXPECT_EQ(s->total, 4);
  EXPECT_LE(s->start_day, today);
  EXPECT_GE(s->end_day, today);
  // Who may ask.
  EXPECT_THAT(stats(As("ann")), IsOk());
  EXPECT_THAT(stats(As("hana", true)), IsOk());
  EXPECT_THAT(stats(Service()), IsOk());
  EXPECT_THAT(stats(As("bob")), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(stats(As("sam")), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->GetStats(As("mia"), "", "eng", today, today), IsOk());
  EXPECT_THAT(service_->GetStats(As("sam"), "", "eng", today, today),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->GetStats(As("mia"), "", "nope", today, today),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->GetStats(As("mia"), "ann", "", today, today - 1),
              InvalidNaming("end_date"));
}

// The differencing attack on stats: read, let one more anonymous answer in,
// read again. Two histories that differ only in the time of day of that
// answer must read the same, before and after; the difference tells its day
// at most.
TEST_F(FeedbackServiceTest,
       StatsDifferencedAcrossOneAnonymousAnswerGiveTheDay) {
  auto at = [](const char* day, int64_t seconds, int64_t micros = 0) {
    return *ParseDay(day, "d") * kMicrosPerDay + seconds * 1000000 + micros;
  };
  // A request made on 2026-03-09 at 09:13:27.123456, answered anonymously.
  auto ask = [&](const std::string& subject,
                 const std::vector<std::string>& responders) {
    store::Request r;
    r.set_id(storage::NewId());
    r.set_requester_id(subject);
    r.set_subject_id(subject);
    r.set_prompt("How did the launch go?");
    r.set_create_time(at("2026-03-09", 9 * 3600 + 13 * 60 + 27, 123456));
    r.set_due_time(at("2026-04-01", 0));
    r.set_allow_anonymous(true);
    for (const auto& p : responders) {
      auto* part = r.add_responders();
      part->set_person_id(p);
      part->set_state(static_cast<int>(ResponderState::kOpen));
    }
    EXPECT_THAT(repo_->InsertRequest(r, nullptr, Idempotency{}), IsOk());
    return r.id();
  };
  // As CreateFeedback stores an anonymous answer sent at `now`.
  auto answer = [&](const std::string& request, const std::string& subject,
                    const std::string& who, int64_t now) {
    store::Feedback f = Anonymous(About(subject, Visibility::kSubjectOnly));
    f.set_id(storage::NewId());
    f.set_request_id(request);
    f.set_relationship(static_cast<int>(Relationship::kPeer));
    f.set_author_key(As(who).key);
    f.set_create_time(DayStart(now));
    EXPECT_THAT(
        repo_->InsertFeedback(f, DayStart(now), Idempotency{}, who, now),
        IsOk());
  };
  int64_t march = *ParseDay("2026-03-01", "d");
  auto read = [&](const std::string& subject) {
    auto s = service_->GetStats(As("mia"), subject, "", march, march);
    EXPECT_THAT(s, IsOk());
    return s.ok() ? *s : Stats{};
  };
  auto same = [](const Stats& a, const Stats& b) {
    EXPECT_EQ(a.withheld_reason, b.withheld_reason);
    EXPECT_EQ(a.counts, b.counts);
    EXPECT_EQ(a.total, b.total);
    EXPECT_EQ(a.asked, b.asked);
    EXPECT_EQ(a.answered, b.answered);
    EXPECT_EQ(a.median_response_days, b.median_response_days);
  };

  // Two histories, about ann and about bob, alike but for the times of day.
  std::string r1 = ask("ann", {"bob", "carl", "dan", "sue"});
  std::string r2 = ask("bob", {"ann", "carl", "dan", "sue"});
  answer(r1, "ann", "bob", at("2026-03-09", 15 * 3600, 500000));
  answer(r2, "bob", "ann", at("2026-03-09", 9 * 3600 + 13 * 60 + 28));
  answer(r1, "ann", "carl", at("2026-03-11", 8 * 3600 + 30 * 60));
  answer(r2, "bob", "carl", at("2026-03-11", 23 * 3600 + 59 * 60 + 59));
  answer(r1, "ann", "dan", at("2026-03-12", 23 * 3600));
  answer(r2, "bob", "dan", at("2026-03-12", 1));
  Stats ann_before = read("ann"), bob_before = read("bob");
  EXPECT_EQ(ann_before.withheld_reason, "");
  EXPECT_EQ(ann_before.answered, 3);
  EXPECT_EQ(ann_before.median_response_days, 2);  // waits 0, 2, 3 days
  same(ann_before, bob_before);

  // One more anonymous answer on 2026-03-13: just after midnight in one
  // history, just before the next in the other.
  answer(r1, "ann", "sue", at("2026-03-13", 1));
  answer(r2, "bob", "sue", at("2026-03-13", 86399, 999999));
  Stats ann_after = read("ann"), bob_after = read("bob");
  EXPECT_EQ(ann_after.answered, 4);
  EXPECT_EQ(ann_after.total, 4);
  EXPECT_EQ(ann_after.median_response_days, 2.5);  // waits 0, 2, 3, 4 days
  same(ann_after, bob_after);
  // Whole days (or a half, between two of them) and nothing finer.
  for (const Stats* s : {&ann_before, &ann_after}) {
    double twice = s->median_response_days * 2;
    EXPECT_EQ(twice, static_cast<double>(static_cast<int64_t>(twice)));
  }
}

TEST_F(FeedbackServiceTest, RecognitionTakesOneReactionPerPerson) {
  store::Feedback praise = About("bob", Visibility::kPublic);
  std::string id = MustGive("ann", praise);
  std::string sales = MustGive("sam", About("sue", Visibility::kPublic));
  std::string hidden = MustGive("ann", About("bob", Visibility::kSubjectOnly));
  ASSERT_THAT(service_->React(As("sue"), id, 1), IsOk());
  ASSERT_THAT(service_->React(As("sue"), id, 3), IsOk());  // replaces
  ASSERT_THAT(service_->React(As("carl"), id, 3), IsOk());
  auto f = repo_->GetFeedback(id);
  ASSERT_THAT(f, IsOk());
  auto counts = service_->Reactions(As("sue"), *f);
  ASSERT_THAT(counts, IsOk());
  EXPECT_THAT(counts->counts, ElementsAre(std::pair<int, int>(3, 2)));
  EXPECT_EQ(counts->mine, 3);
  EXPECT_THAT(service_->React(As("ann"), hidden, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(service_->React(As("sue"), hidden, 1),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(service_->React(Service(), id, 1),
              StatusIs(absl::StatusCode::kPermissionDenied));

  Page page;
  std::string next;
  auto eng = service_->ListRecognition(As("sue"), "eng", page, &next);
  ASSERT_THAT(eng, IsOk());
  EXPECT_THAT(Ids(*eng), ElementsAre(id));
  auto all = service_->ListRecognition(As("sue"), "", page, &next);
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(Ids(*all), UnorderedElementsAre(id, sales));
  EXPECT_THAT(service_->ListRecognition(As("sue"), "nope", page, &next),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FeedbackServiceTest, OneOnOneNotesArePrivateAndActionItemsCarryOver) {
  store::OneOnOne m;
  m.set_manager_id("mia");
  m.set_report_id("ann");
  m.set_scheduled_time(storage::NowMicros());
  m.add_agenda()->set_text("Quarter plan");
  m.set_my_note("mia's own note");
  store::ActionItem* item = m.add_action_items();
  item->set_text("Draft the design doc");
  item->set_owner_id("ann");
  auto created = service_->CreateOneOnOne(As("mia"), m, Idempotency{});
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->my_note(), "mia's own note");
  ASSERT_EQ(created->action_items_size(), 1);
  const std::string item_id = created->action_items(0).id();

  Page page;
  auto ann_view = service_->ListOneOnOnes(As("ann"), "", page);
  ASSERT_THAT(ann_view, IsOk());
  ASSERT_EQ(ann_view->size(), 1u);
  EXPECT_EQ((*ann_view)[0].my_note(), "");
  EXPECT_EQ((*ann_view)[0].agenda(0).author_id(), "mia");

  OneOnOneChange note;
  note.my_note = "ann's own note";
  auto updated = service_->UpdateOneOnOne(
      As("ann"), created->id(), FeedbackService::OneOnOneEtag((*ann_view)[0]),
      note);
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->my_note(), "ann's own note");
  // The etag read before ann's change is stale now.
  EXPECT_THAT(
      service_->UpdateOneOnOne(As("mia"), created->id(),
                               FeedbackService::OneOnOneEtag(*created), note),
      StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(service_->UpdateOneOnOne(As("bob"), created->id(), "", note),
              StatusIs(absl::StatusCode::kNotFound));
  auto mia_view = service_->ListOneOnOnes(As("mia"), "ann", page);
  ASSERT_THAT(mia_view, IsOk());
  ASSERT_EQ(mia_view->size(), 1u);
  EXPECT_EQ((*mia_view)[0].my_note(), "mia's own note");

  // The next meeting carries the open item until it is done.
  store::OneOnOne next;
  next.set_manager_id("mia");
  next.set_report_id("ann");
  next.set_scheduled_time(storage::NowMicros() + 7 * kMicrosPerDay);
  auto second = service_->CreateOneOnOne(As("ann"), next, Idempotency{});
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->action_items_size(), 1);
  EXPECT_EQ(second->action_items(0).id(), item_id);
  EXPECT_EQ(second->action_items(0).one_on_one_id(), created->id());
  auto done = service_->CompleteActionItem(As("ann"), second->id(), item_id);
  ASSERT_THAT(done, IsOk());
  ASSERT_EQ(done->action_items_size(), 1);
  EXPECT_TRUE(done->action_items(0).done());
  // A meeting created after it was done does not carry it.
  next.set_scheduled_time(storage::NowMicros() + 14 * kMicrosPerDay);
  auto third = service_->CreateOneOnOne(As("mia"), next, Idempotency{});
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->action_items_size(), 0);
  EXPECT_THAT(service_->CompleteActionItem(As("ann"), second->id(), "nope"),
              StatusIs(absl::StatusCode::kNotFound));

  // Bad meetings, each naming its field.
  store::OneOnOne bad = next;
  bad.set_manager_id("sam");
  EXPECT_THAT(service_->CreateOneOnOne(As("ann"), bad, Idempotency{}),
              InvalidNaming("one_on_one.manager"));
  bad = next;
  bad.add_action_items()->set_text("Ship it");
  bad.mutable_action_items(0)->set_owner_id("sue");
  EXPECT_THAT(service_->CreateOneOnOne(As("ann"), bad, Idempotency{}),
              InvalidNaming("one_on_one.action_items[0].owner"));
  bad = next;
  bad.set_scheduled_time(0);
  EXPECT_THAT(service_->CreateOneOnOne(As("ann"), bad, Idempotency{}),
              InvalidNaming("one_on_one.scheduled_time"));
  EXPECT_THAT(service_->CreateOneOnOne(As("bob"), next, Idempotency{}),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace sightline::feedback
