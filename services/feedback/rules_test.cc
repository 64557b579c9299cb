#include "services/feedback/rules.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::feedback {
namespace {

using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;

store::Feedback Valid(Relationship rel) {
  store::Feedback f;
  f.set_id("f1");
  f.set_subject_id("sam");
  f.set_author_id("ann");
  f.set_author_key("key-ann");
  f.set_relationship(static_cast<int>(rel));
  f.set_kind(static_cast<int>(Kind::kConstructive));
  f.set_visibility(static_cast<int>(Visibility::kSubjectOnly));
  f.set_body("Clear write-up of the incident.");
  return f;
}

TEST(Relationship, DerivedFromTheTwoChains) {
  // boss <- sam <- ann; pat is elsewhere.
  std::vector<std::string> sam_chain = {"boss"};
  std::vector<std::string> ann_chain = {"sam", "boss"};
  EXPECT_EQ(DeriveRelationship("ann", "ann", ann_chain, ann_chain),
            Relationship::kSelf);
  EXPECT_EQ(DeriveRelationship("sam", "ann", ann_chain, sam_chain),
            Relationship::kDownward);
  EXPECT_EQ(DeriveRelationship("boss", "ann", ann_chain, {}),
            Relationship::kDownward);
  EXPECT_EQ(DeriveRelationship("ann", "sam", sam_chain, ann_chain),
            Relationship::kUpward);
  EXPECT_EQ(DeriveRelationship("ann", "boss", {}, ann_chain),
            Relationship::kUpward);
  EXPECT_EQ(DeriveRelationship("pat", "sam", sam_chain, {"other"}),
            Relationship::kPeer);
  EXPECT_EQ(DeriveRelationship("", "sam", sam_chain, {}),
            Relationship::kCustomer);
}

TEST(ValidateFeedback, AcceptsAValidOne) {
  EXPECT_THAT(ValidateFeedback(Valid(Relationship::kPeer), "feedback"), IsOk());
}

TEST(ValidateFeedback, BodyKindVisibilityAreRequired) {
  auto f = Valid(Relationship::kPeer);
  f.set_body("");
  EXPECT_THAT(
      ValidateFeedback(f, "feedback"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("feedback.body")));
  f = Valid(Relationship::kPeer);
  f.set_body(std::string(kMaxBody + 1, 'x'));
  EXPECT_THAT(
      ValidateFeedback(f, "feedback"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("feedback.body")));
  f = Valid(Relationship::kPeer);
  f.set_body("bell\a");
  EXPECT_THAT(ValidateFeedback(f, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("control characters")));
  f = Valid(Relationship::kPeer);
  f.set_kind(0);
  EXPECT_THAT(
      ValidateFeedback(f, "feedback"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("feedback.kind")));
  f = Valid(Relationship::kPeer);
  f.set_visibility(0);
  EXPECT_THAT(ValidateFeedback(f, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback.visibility")));
}

TEST(ValidateFeedback, PublicIsPraiseOnly) {
  auto f = Valid(Relationship::kPeer);
  f.set_visibility(static_cast<int>(Visibility::kPublic));
  EXPECT_THAT(ValidateFeedback(f, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be PRAISE")));
  f.set_kind(static_cast<int>(Kind::kPraise));
  EXPECT_THAT(ValidateFeedback(f, "feedback"), IsOk());
}

TEST(ValidateFeedback, AnonymousOnlyPeerAndUpwardAndNeverPublic) {
  for (auto rel : {Relationship::kPeer, Relationship::kUpward}) {
    auto f = Valid(rel);
    f.set_anonymous(true);
    EXPECT_THAT(ValidateFeedback(f, "feedback"), IsOk());
    f.set_kind(static_cast<int>(Kind::kPraise));
    f.set_visibility(static_cast<int>(Visibility::kPublic));
    EXPECT_THAT(ValidateFeedback(f, "feedback"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("never anonymous")));
  }
  for (auto rel : {Relationship::kDownward, Relationship::kSelf,
                   Relationship::kCustomer}) {
    auto f = Valid(rel);
    f.set_anonymous(true);
    f.set_external_name("Dana");
    f.set_external_org("Acme");
    EXPECT_THAT(ValidateFeedback(f, "feedback"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("feedback.anonymous")));
  }
}

TEST(ValidateFeedback, CustomerNeedsAnExternalAuthorAndOnlyCustomerHasOne) {
  auto f = Valid(Relationship::kCustomer);
  EXPECT_THAT(ValidateFeedback(f, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback.external_author.name")));
  f.set_external_name("Dana");
  f.set_external_org("Acme");
  EXPECT_THAT(ValidateFeedback(f, "feedback"), IsOk());
  auto peer = Valid(Relationship::kPeer);
  peer.set_external_name("Dana");
  EXPECT_THAT(ValidateFeedback(peer, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback.external_author")));
}

TEST(ValidateFeedback, TagsAndKeyResult) {
  auto f = Valid(Relationship::kPeer);
  f.add_competencies("ownership");
  f.add_competencies("ownership");
  EXPECT_THAT(ValidateFeedback(f, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback.competencies[1]")));
  f = Valid(Relationship::kPeer);
  f.add_values("Bad Tag");
  EXPECT_THAT(ValidateFeedback(f, "feedback"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback.values[0]")));
  f = Valid(Relationship::kPeer);
  for (int i = 0; i < 11; ++i) f.add_values(absl::StrCat("v", i));
  EXPECT_THAT(
      ValidateFeedback(f, "feedback"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 10")));
  f = Valid(Relationship::kPeer);
  f.set_key_result("goals/g/keyResults/k");
  EXPECT_THAT(
      ValidateFeedback(f, "feedback"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("feedback.goal")));
}

TEST(CanRead, TheVisibilityMatrix) {
  std::vector<std::string> chain = {"mgr", "director"};
  Caller author{"ann", false, false, "key-ann"};
  Caller subject{"sam", false, false, "key-sam"};
  Caller manager{"mgr", false, false, "key-mgr"};
  Caller skip{"director", false, false, "key-dir"};
  Caller peer{"pat", false, false, "key-pat"};
  Caller hr{"hr", true, false, "key-hr"};
  Caller service{"", false, true, "key-svc"};

  auto f = Valid(Relationship::kPeer);
  // SUBJECT_ONLY: author and subject only.
  EXPECT_TRUE(CanRead(author, f, chain));
  EXPECT_TRUE(CanRead(subject, f, chain));
  for (const auto& c : {manager, skip, peer, hr, service})
    EXPECT_FALSE(CanRead(c, f, chain)) << c.person_id;
  // SUBJECT_AND_MANAGERS: and the subject's chain.
  f.set_visibility(static_cast<int>(Visibility::kSubjectAndManagers));
  for (const auto& c : {author, subject, manager, skip})
    EXPECT_TRUE(CanRead(c, f, chain)) << c.person_id;
  for (const auto& c : {peer, hr, service})
    EXPECT_FALSE(CanRead(c, f, chain)) << c.person_id;
  // PUBLIC: everyone.
  f.set_visibility(static_cast<int>(Visibility::kPublic));
  for (const auto& c : {author, subject, manager, skip, peer, hr, service})
    EXPECT_TRUE(CanRead(c, f, chain)) << c.person_id;
}

TEST(CanRead, AnonymousAuthorIsRecognisedByPseudonymOnly) {
  auto f = Valid(Relationship::kPeer);
  f.set_anonymous(true);
  f.set_author_id("");
  EXPECT_TRUE(CanRead({"ann", false, false, "key-ann"}, f, {}));
  EXPECT_FALSE(CanRead({"pat", false, false, "key-pat"}, f, {}));
}

TEST(Sensitive, AnonymousOrUpward) {
  EXPECT_FALSE(Sensitive(Valid(Relationship::kPeer)));
  EXPECT_TRUE(Sensitive(Valid(Relationship::kUpward)));
  auto f = Valid(Relationship::kPeer);
  f.set_anonymous(true);
  EXPECT_TRUE(Sensitive(f));
}

TEST(Floor, NeverBelowTwo) {
  EXPECT_EQ(EffectiveFloor(0), 2);
  EXPECT_EQ(EffectiveFloor(1), 2);
  EXPECT_EQ(EffectiveFloor(3), 3);
  EXPECT_EQ(EffectiveFloor(7), 7);
}

TEST(Floor, BothTheGroupAndWhatANarrowingLeftOutMustReachIt) {
  EXPECT_EQ(FloorViolation(0, 0, 3), std::nullopt);
  EXPECT_NE(FloorViolation(1, 0, 3), std::nullopt);
  EXPECT_NE(FloorViolation(2, 0, 3), std::nullopt);
  EXPECT_EQ(FloorViolation(3, 0, 3), std::nullopt);
  // 4 selected of 5: the one left out would show by comparison.
  auto why = FloorViolation(4, 1, 3);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("leaves out"));
  EXPECT_EQ(FloorViolation(3, 3, 3), std::nullopt);
}

TEST(Days, DayStartNumberAndDates) {
  int64_t t = 1700000000LL * 1000000 + 123;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(DateOfDay(DayNumber(t)), "2023-11-14");
  EXPECT_EQ(DayStart(t) % kMicrosPerDay, 0);
  EXPECT_EQ(DayNumber(DayStart(t)), DayNumber(t));
  EXPECT_EQ(DayNumber(-1), -1);
  auto d = ParseDay("2023-11-14", "start_date");
  ASSERT_THAT(d.status(), IsOk());
  EXPECT_EQ(*d, DayNumber(t));
  for (const char* bad : {"2023-13-01", "2023-02-30", "14/11/2023", "", "x"}) {
    EXPECT_THAT(
        ParseDay(bad, "start_date").status(),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("start_date")))
        << bad;
  }
}

TEST(Days, DaysBetweenIgnoresTheTimeOfDay) {
  auto at = [](const char* day, int64_t seconds) {
    return *ParseDay(day, "d") * kMicrosPerDay + seconds * 1000000;
  };
  EXPECT_EQ(DaysBetween(at("2026-03-09", 0), at("2026-03-09", 86399)), 0);
  EXPECT_EQ(DaysBetween(at("2026-03-09", 86399), at("2026-03-10", 0)), 1);
  EXPECT_EQ(DaysBetween(at("2026-03-09", 1), at("2026-03-12", 5)),
            DaysBetween(at("2026-03-09", 80000), at("2026-03-12", 86000)));
  EXPECT_EQ(DaysBetween(at("2026-02-27", 3600), at("2026-03-02", 60)), 3);
}

TEST(Days, MonthStartsCoverWholeMonths) {
  auto day = [](const char* s) { return *ParseDay(s, "d"); };
  auto m = MonthStarts(day("2026-01-15"), day("2026-03-02"));
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(DateOfDay(m[0]), "2026-01-01");
  EXPECT_EQ(DateOfDay(m[1]), "2026-02-01");
  EXPECT_EQ(DateOfDay(m[2]), "2026-03-01");
  EXPECT_EQ(DateOfDay(m[3]), "2026-04-01");
  auto one = MonthStarts(day("2026-12-31"), day("2026-12-31"));
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(DateOfDay(one[1]), "2027-01-01");
}

store::Request Req(std::vector<ResponderState> states, int64_t due) {
  store::Request r;
  r.set_id("r1");
  r.set_requester_id("sam");
  r.set_prompt("How did the launch go?");
  r.set_due_time(due);
  int i = 0;
  for (auto s : states) {
    auto* p = r.add_responders();
    p->set_person_id(absl::StrCat("p", i++));
    p->set_state(static_cast<int>(s));
  }
  return r;
}

TEST(Requests, StatesAndExpiry) {
  using S = ResponderState;
  auto open = Req({S::kOpen, S::kCompleted}, 100);
  EXPECT_EQ(OverallState(open, 50), S::kOpen);
  EXPECT_EQ(EffectiveState(open.responders(0), 100, 100), S::kExpired);
  EXPECT_EQ(EffectiveState(open.responders(1), 100, 200), S::kCompleted);
  EXPECT_EQ(OverallState(open, 100), S::kCompleted);
  EXPECT_EQ(OverallState(Req({S::kDeclined, S::kDeclined}, 100), 50),
            S::kDeclined);
  EXPECT_EQ(OverallState(Req({S::kDeclined, S::kOpen}, 100), 150), S::kExpired);
}

TEST(Requests, Validation) {
  using S = ResponderState;
  auto r = Req({S::kOpen, S::kOpen, S::kOpen}, 1000);
  EXPECT_THAT(ValidateRequest(r, 10, 3), IsOk());
  r.set_allow_anonymous(true);
  EXPECT_THAT(ValidateRequest(r, 10, 3), IsOk());
  EXPECT_THAT(ValidateRequest(r, 10, 4),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback_request.allow_anonymous")));
  EXPECT_THAT(ValidateRequest(r, 1000, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback_request.due_time")));
  auto self = r;
  self.mutable_responders(1)->set_person_id("sam");
  EXPECT_THAT(ValidateRequest(self, 10, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback_request.responders[1]")));
  auto twice = r;
  twice.mutable_responders(2)->set_person_id("p0");
  EXPECT_THAT(ValidateRequest(twice, 10, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback_request.responders[2]")));
  auto none = Req({}, 1000);
  EXPECT_THAT(ValidateRequest(none, 10, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback_request.responders")));
  auto no_prompt = Req({S::kOpen}, 1000);
  no_prompt.set_prompt("");
  EXPECT_THAT(ValidateRequest(no_prompt, 10, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("feedback_request.prompt")));
}

TEST(Median, OddEvenEmpty) {
  EXPECT_EQ(Median({}), 0);
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 2, 3}), 2.5);
}

}  // namespace
}  // namespace sightline::feedback
